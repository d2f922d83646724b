'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { proposalsForEpic, findingsForIssue } = require('../src/views');
const { proposal, finding } = require('./helpers/factories');

test('proposals: open first, then approved, superseded last; newest first within a status', () => {
  const state = {
    proposals: [
      proposal({ proposalId: 'a', status: 'superseded', createdAt: '2026-11-03' }),
      proposal({ proposalId: 'b', status: 'approved', createdAt: '2026-11-01' }),
      proposal({ proposalId: 'c', status: 'approved', createdAt: '2026-11-02' }),
      proposal({ proposalId: 'd', status: 'proposed', createdAt: '2026-11-04' }),
    ],
  };
  assert.deepEqual(proposalsForEpic(state, 'CARE-12').map((p) => p.proposalId), ['d', 'c', 'b', 'a']);
});

test('proposals tolerate missing or odd fields and ignore other epics', () => {
  const state = {
    proposals: [
      { epicKey: 'CARE-12', proposalId: 'p', subtasks: [{ order: 2 }, { title: 'First', order: 1, storyPoints: 2, acceptanceCriteria: ['ok', 3] }] },
      { epicKey: 'CARE-13', proposalId: 'q', subtasks: [] },
      null,
    ],
  };
  const [p, ...rest] = proposalsForEpic(state, 'CARE-12');
  assert.equal(rest.length, 0);
  assert.equal(p.status, 'proposed');
  assert.deepEqual(p.subtasks.map((s) => s.title), ['First', '(untitled)']);
  assert.deepEqual(p.subtasks[0].acceptanceCriteria, ['ok']);
  assert.equal(p.totalStoryPoints, 2);
  assert.deepEqual(proposalsForEpic(null, 'CARE-12'), []);
  assert.deepEqual(proposalsForEpic({ proposals: 'nope' }, 'CARE-12'), []);
});

test('findings: this issue only, unresolved, most severe first, unknown severity as info', () => {
  const state = {
    findings: [
      finding({ findingId: 'info', severity: 'weird' }),
      finding({ findingId: 'crit', severity: 'CRITICAL' }),
      finding({ findingId: 'nested', issueKey: undefined, issue: { key: 'CARE-12' }, severity: 'medium' }),
      finding({ findingId: 'closed', status: 'Resolved' }),
      finding({ findingId: 'other', issueKey: 'CARE-1' }),
    ],
  };
  const found = findingsForIssue(state, 'CARE-12');
  assert.deepEqual(found.map((f) => [f.findingId, f.severity]), [
    ['crit', 'critical'],
    ['nested', 'medium'],
    ['info', 'info'],
  ]);
  assert.equal(findingsForIssue({}, 'CARE-12').length, 0);
});
