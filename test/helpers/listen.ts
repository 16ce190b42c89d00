import type http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Starts `server` on a free loopback port; returns the URL of `/f.bin` on it and a close that drops its open
 * connections first (a test's server may be holding an answer back when the test ends).
 */
export async function listenLoopback (server: http.Server): Promise<{ url: string, close: () => Promise<void> }> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`,
    close: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    },
  }
}
