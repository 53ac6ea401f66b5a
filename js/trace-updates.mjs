// Type a sequential editing trace into a Yjs doc, one transaction per trace
// transaction, and write each transaction's update to a file: varuint length,
// then the update bytes, one after another. (Yjs in Node does this in a
// handful of seconds; pycrdt takes about 40 s for the 259,778 edits of automerge-paper.)
//
//   node trace-updates.mjs <trace.json.gz> <output file> [client id]
//
// Prints {"updates": N, "chars": final text length}; exits 1 if the typed text
// differs from the trace's endContent.
import fs from 'node:fs'
import zlib from 'node:zlib'
import * as Y from 'yjs'

const [input, output, clientId] = process.argv.slice(2)
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(input)).toString('utf8'))
const doc = new Y.Doc()
doc.clientID = Number(clientId || 1)
const text = doc.getText('text')
if (trace.startContent) text.insert(0, trace.startContent)
const chunks = []
let count = 0
doc.on('update', (update) => {
  let n = update.length
  const head = []
  while (n > 127) { head.push(0x80 | (n & 0x7f)); n >>>= 7 }
  head.push(n)
  chunks.push(Buffer.from(head), Buffer.from(update))
  count += 1
})
for (const txn of trace.txns) {
  doc.transact(() => {
    for (const [position, deleted, inserted] of txn.patches) {
      if (deleted) text.delete(position, deleted)
      if (inserted) text.insert(position, inserted)
    }
  })
}
if (text.toString() !== trace.endContent) {
  console.error('typed text differs from endContent')
  process.exit(1)
}
fs.writeFileSync(output, Buffer.concat(chunks))
console.log(JSON.stringify({ updates: count, chars: text.length }))
