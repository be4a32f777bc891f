// The cluster test project's global set-up: one loopback cluster (clickhouseCluster.ts) for all
// its store suites, each file on databases of its own, instead of a cluster per file (five
// ZooKeepers and fifteen servers started in turn on two cores). The fault tests, which kill
// servers, still start their own.
import type { TestProject } from 'vitest/node';
import { canRunCluster, startClickHouseCluster, type ClusterServerAddress } from './clickhouseCluster.js';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!canRunCluster()) {
    project.provide('clickhouseCluster', null);
    return undefined;
  }
  const cluster = await startClickHouseCluster();
  project.provide('clickhouseCluster', cluster.servers.map(({ name, shard, httpPort, tcpPort, url }) => ({ name, shard, httpPort, tcpPort, url })));
  return () => cluster.stop();
}
