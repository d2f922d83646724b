'use strict';
/**
 * Forge function entry point (manifest: function `resolver`, handler `index.handler`).
 * The one place the real platform is wired in: @forge/resolver and @forge/api's invokeRemote.
 */

const Resolver = require('@forge/resolver').default;
const { invokeRemote } = require('@forge/api');
const { createBackendClient } = require('./client');
const { defineResolvers } = require('./resolvers');

const resolver = defineResolvers(new Resolver(), createBackendClient({ invokeRemote }));

exports.handler = resolver.getDefinitions();
