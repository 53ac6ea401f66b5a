// A real Yjs client (yjs + y-websocket's WebsocketProvider on Node's `ws`) driven
// by JSON lines on stdin, answering with JSON lines on stdout. The course's
// interop test runs it against the Python sync server.
//
//   node interop-client.mjs <server url> <room> <client id> <user name>
//
// Commands (one JSON object per line, each may carry an "id" echoed back):
//   {"cmd": "insert", "index": 0, "text": "abc"}       one transaction
//   {"cmd": "type", "text": "abc", "seed": 1}          one transaction per character,
//                                                      at seeded random positions,
//                                                      yielding to the event loop between
//   {"cmd": "delete", "index": 0, "length": 2}
//   {"cmd": "state"}     -> {"text", "connected", "synced", "peers": {clientId: state}}
//   {"cmd": "quit"}      destroy the provider (it says goodbye) and exit
// Events, unasked: {"event": "status", "status": "connected" | "disconnected"}
//                  {"event": "synced"}
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import readline from 'node:readline'

const [url, room, clientId, userName] = process.argv.slice(2)
if (!url || !room || !clientId) {
  console.error('usage: node interop-client.mjs <server url> <room> <client id> [user name]')
  process.exit(2)
}

const doc = new Y.Doc()
doc.clientID = Number(clientId) // fixed, so that concurrent inserts order the same every run
const text = doc.getText('text')
const provider = new WebsocketProvider(url, room, doc, {
  WebSocketPolyfill: WebSocket, // Node 20 has no global WebSocket
  disableBc: true // no BroadcastChannel shortcut between clients of one process
})
provider.awareness.setLocalStateField('user', { name: userName || 'node' })

const say = (message) => process.stdout.write(JSON.stringify(message) + '\n')
provider.on('status', ({ status }) => say({ event: 'status', status }))
provider.on('sync', (synced) => { if (synced) say({ event: 'synced' }) })

// A small seeded generator (mulberry32), so a "type" command is repeatable.
const random = (seed) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const peers = () => {
  const out = {}
  for (const [id, state] of provider.awareness.getStates()) {
    if (id !== doc.clientID) out[id] = state
  }
  return out
}

const commands = {
  insert: ({ index, text: s }) => { text.insert(index, s) },
  delete: ({ index, length }) => { text.delete(index, length) },
  type: async ({ text: s, seed }) => {
    const next = random(seed || 1)
    for (const ch of s) {
      text.insert(Math.floor(next() * (text.length + 1)), ch)
      await new Promise((resolve) => setImmediate(resolve))
    }
  },
  state: () => ({
    text: text.toString(),
    connected: provider.wsconnected,
    synced: provider.synced,
    peers: peers()
  }),
  quit: () => {
    provider.destroy()
    setTimeout(() => process.exit(0), 50)
  }
}

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  let request = {}
  try {
    request = JSON.parse(line)
    const run = commands[request.cmd]
    if (!run) throw new Error(`unknown command ${JSON.stringify(request.cmd)}`)
    const result = await run(request)
    say({ id: request.id, ok: true, ...(result || {}) })
  } catch (error) {
    say({ id: request.id, ok: false, error: String(error) })
  }
})
lines.on('close', () => { provider.destroy(); process.exit(0) })
