'use strict';
/**
 * The Confluence macro: ask MindMesh a question, read the answer and the pages it came from.
 * `call(functionKey, payload)` is the only way out (see ../common makeCall).
 */

const React = require('react');
const {
  Stack,
  Inline,
  Heading,
  Text,
  Textfield,
  Checkbox,
  LoadingButton,
  Link,
  List,
  ListItem,
  Label,
} = require('@forge/react');
const { h, ErrorNotice } = require('../common');

const { useState, useCallback } = React;

const EXCERPT_CHARS = 280;

function excerpt(text) {
  const t = String(text || '').replace(/\s+/g, ' ').trim();
  return t.length > EXCERPT_CHARS ? `${t.slice(0, EXCERPT_CHARS - 1)}…` : t;
}

function Passage({ passage, index }) {
  const title = passage.url
    ? h(Link, { href: passage.url, openNewTab: true }, passage.title)
    : passage.title;
  return h(
    ListItem,
    null,
    h(
      Stack,
      { space: 'space.050', testId: `passage-${index}` },
      h(Text, { weight: 'bold' }, title),
      passage.text ? h(Text, null, excerpt(passage.text)) : null,
    ),
  );
}

function Answer({ result }) {
  if (result.passages.length === 0) {
    const where = result.space ? `in space ${result.space}` : 'on this site';
    return h(
      Text,
      { testId: 'mindmesh-empty' },
      `MindMesh found nothing ${where} that answers this. If the pages were added recently they ` +
        'may not be indexed yet; otherwise try other words.',
    );
  }
  return h(
    Stack,
    { space: 'space.150', testId: 'mindmesh-answer' },
    result.answer ? h(Text, null, result.answer) : null,
    h(Heading, { size: 'xsmall' }, 'Sources'),
    h(
      List,
      { type: 'ordered' },
      result.passages.map((p, i) => h(Passage, { key: `${p.pageId}-${i}`, passage: p, index: i })),
    ),
  );
}

function MindMeshSearch({ spaceKey, call }) {
  const [question, setQuestion] = useState('');
  const [thisSpaceOnly, setThisSpaceOnly] = useState(Boolean(spaceKey));
  const [state, setState] = useState({ status: 'idle' });

  const ask = useCallback(async () => {
    const q = question.trim();
    if (!q) return;
    setState({ status: 'working' });
    const res = await call('askMindMesh', { question: q, thisSpaceOnly: thisSpaceOnly && Boolean(spaceKey) });
    setState(res.ok ? { status: 'answered', result: res.data } : { status: 'failed', error: res.error });
  }, [call, question, thisSpaceOnly, spaceKey]);

  return h(
    Stack,
    { space: 'space.200' },
    h(Heading, { size: 'small' }, 'Ask MindMesh'),
    h(
      Stack,
      { space: 'space.100' },
      h(Label, { labelFor: 'mindmesh-question' }, 'Question'),
      h(Textfield, {
        id: 'mindmesh-question',
        name: 'question',
        value: question,
        placeholder: 'e.g. How do we handle PHI in test data?',
        onChange: (e) => setQuestion(e && e.target ? String(e.target.value ?? '') : ''),
        testId: 'mindmesh-question',
      }),
      h(
        Inline,
        { space: 'space.200', alignBlock: 'center' },
        spaceKey
          ? h(Checkbox, {
              name: 'thisSpaceOnly',
              label: `Only space ${spaceKey}`,
              isChecked: thisSpaceOnly,
              onChange: (e) => setThisSpaceOnly(Boolean(e && e.target && e.target.checked)),
              testId: 'mindmesh-this-space',
            })
          : null,
        h(
          LoadingButton,
          {
            appearance: 'primary',
            isLoading: state.status === 'working',
            isDisabled: !question.trim(),
            onClick: ask,
            testId: 'mindmesh-ask',
          },
          'Ask',
        ),
      ),
    ),
    state.status === 'failed' ? h(ErrorNotice, { error: state.error, onRetry: ask, testId: 'mindmesh-error' }) : null,
    state.status === 'answered' ? h(Answer, { result: state.result }) : null,
  );
}

module.exports = { MindMeshSearch };
