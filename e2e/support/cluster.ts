// A livemon cluster on loopback for one spec: NATS servers with JetStream
// (bin/nats-server, built from go.mod's version by `make test-e2e`), an
// ingest and edges from bin/livemon. Every process is owned here and
// stopped by stopAll, which waits for each one.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { freePort, removeDir, startLivemon, tempDataDir } from './livemon.cjs'

export const NATS_BIN = process.env.LIVEMON_NATS_BIN ?? resolve(__dirname, '..', '..', 'bin', 'nats-server')

interface Handle {
  url: string
  port: number
  pid: number | undefined
  exited: Promise<string>
  output(): string
  stop(graceMs?: number): Promise<string>
}

/** A livemon node of the cluster. */
export interface Node {
  readonly name: string
  readonly url: string
  readonly port: number
  /** SIGTERM and wait (SIGKILL after 8 s). */
  stop(): Promise<void>
  /** SIGKILL and wait: the node dies without a goodbye. */
  kill(): Promise<void>
  /** Starts it again on the same port. */
  start(): Promise<void>
  output(): string
}

interface NatsServer {
  child: ChildProcess
  exited: Promise<void>
  log: string
}

export class Cluster {
  private readonly dir = tempDataDir('livemon-e2e-cluster-')
  private readonly nats: NatsServer[] = []
  private readonly nodes: { node: Node; handle: () => Handle | null }[] = []
  natsURLs = ''

  /** Starts `n` clustered NATS servers and waits until JetStream answers on each. */
  async startNATS(n: number): Promise<void> {
    if (!existsSync(NATS_BIN)) {
      throw new Error(`${NATS_BIN} does not exist: run "make test-e2e" (or go build -o bin/nats-server github.com/nats-io/nats-server/v2)`)
    }
    const ports = await Promise.all(Array.from({ length: 3 * n }, () => freePort()))
    const client = ports.slice(0, n)
    const route = ports.slice(n, 2 * n)
    const http = ports.slice(2 * n)
    const routes = route.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')
    for (let i = 0; i < n; i++) {
      const store = join(this.dir, `nats${i + 1}`)
      mkdirSync(store, { recursive: true })
      const conf = join(this.dir, `nats${i + 1}.conf`)
      const cluster = n > 1 ? `cluster {\n  name: livemon-e2e\n  listen: 127.0.0.1:${route[i]}\n  routes: [${routes}]\n}\n` : ''
      writeFileSync(
        conf,
        `server_name: n${i + 1}\nlisten: 127.0.0.1:${client[i]}\nhttp: 127.0.0.1:${http[i]}\n` +
          `jetstream {\n  store_dir: "${store}"\n  max_memory_store: 64MB\n  max_file_store: 512MB\n}\n${cluster}`,
      )
      const child = spawn(NATS_BIN, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
      const srv: NatsServer = { child, log: '', exited: new Promise((r) => child.on('exit', () => r())) }
      const sink = (c: string) => {
        srv.log = (srv.log + c).slice(-20_000)
      }
      child.stdout!.setEncoding('utf8').on('data', sink)
      child.stderr!.setEncoding('utf8').on('data', sink)
      this.nats.push(srv)
    }
    this.natsURLs = client.map((p) => `nats://127.0.0.1:${p}`).join(',')
    await Promise.all(http.map((p, i) => this.waitNATS(p, this.nats[i]!)))
  }

  private async waitNATS(httpPort: number, srv: NatsServer): Promise<void> {
    const deadline = Date.now() + 20_000
    for (let i = 0; i < 400 && Date.now() < deadline; i++) {
      if (srv.child.exitCode !== null) throw new Error(`nats-server exited:\n${srv.log}`)
      try {
        const res = await fetch(`http://127.0.0.1:${httpPort}/healthz?js-enabled-only=true`, { signal: AbortSignal.timeout(1000) })
        if (res.ok) return
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`nats-server on monitoring port ${httpPort} not healthy within 20 s:\n${srv.log}`)
  }

  /** Starts a livemon node of `role` (ingest or edge) connected to the NATS servers. */
  async startNode(name: string, role: 'ingest' | 'edge'): Promise<Node> {
    const dataDir = join(this.dir, name)
    mkdirSync(dataDir, { recursive: true })
    const extraArgs = ['--role', role, '--nats', this.natsURLs]
    let handle: Handle | null = await startLivemon({ dataDir, extraArgs, healthTimeoutMs: 40_000 })
    let log = ''
    const port = handle!.port
    const node: Node = {
      name,
      url: handle!.url,
      port,
      async stop() {
        if (!handle) return
        log += handle.output()
        await handle.stop()
        handle = null
      },
      async kill() {
        if (!handle) return
        log += handle.output()
        if (handle.pid !== undefined) process.kill(handle.pid, 'SIGKILL')
        await handle.exited
        handle = null
      },
      async start() {
        if (handle) return
        handle = await startLivemon({ dataDir, port, extraArgs, healthTimeoutMs: 40_000 })
      },
      output: () => log + (handle?.output() ?? ''),
    }
    this.nodes.push({ node, handle: () => handle })
    return node
  }

  /** Output of every process, for a failing test. */
  logs(): string {
    const parts = this.nodes.map(({ node }) => `--- ${node.name} ---\n${node.output().slice(-6000)}`)
    this.nats.forEach((s, i) => parts.push(`--- nats${i + 1} ---\n${s.log.slice(-2000)}`))
    return parts.join('\n')
  }

  /** Stops the nodes (edges first, as added in reverse), then NATS, and removes the temp dir. */
  async stopAll(): Promise<void> {
    for (const { node } of [...this.nodes].reverse()) await node.stop()
    for (const s of this.nats) {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM')
      const timer = setTimeout(() => s.child.kill('SIGKILL'), 5000)
      await s.exited
      clearTimeout(timer)
    }
    removeDir(this.dir)
  }
}
