// The Node.js reference Yjs server (@y/websocket-server 0.1.1, the y-websocket
// server) on 127.0.0.1 and a free port, for the course's benchmark.
//
//   node bench-server.mjs
//
// Prints {"port": N} once listening. When stdin closes it prints
// {"cpu": seconds of CPU this process used} and exits.
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { setupWSConnection } from '@y/websocket-server/utils'

const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})
const wss = new WebSocketServer({ noServer: true })
wss.on('connection', setupWSConnection)
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request))
})
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
process.stdin.on('end', () => {
  const used = process.cpuUsage()
  console.log(JSON.stringify({ cpu: (used.user + used.system) / 1e6 }))
  process.exit(0)
})
process.stdin.resume()
