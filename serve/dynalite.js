// Runs dynalite (the local DynamoDB API server) with its own command line, surviving a client
// that disconnects in the middle of a request.
//
// dynalite's request handler rethrows a request's 'error' event (index.js:
// `req.on('error', function (err) { throw err })`), so a client killed while sending a body
// (an ingress replica SIGKILLed mid-batch, a Ray worker restarted) crashed the whole database
// with `Error: aborted` / ECONNRESET, and with it every process of the local stack. DynamoDB
// shrugs such a client off; so does this, for that error only: the request had not been read
// yet, so nothing of it was applied. Any other uncaught error still ends the process.
'use strict'

process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') {
    console.error(`dynalite: a client aborted its request (${err.message}); carrying on`)
    return
  }
  console.error(err)
  process.exit(1)
})

require('dynalite/cli.js')
