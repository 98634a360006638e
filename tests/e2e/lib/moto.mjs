// The AWS test peer, the same one the Rust tests use (crates/hypersdk-aws/tests/support/moto.rs):
// moto in server mode from .tools/venv, on a free loopback port. Instances are seeded with boto3
// (installed with moto) so the window sees what an account would hold.
//
// Where moto differs from AWS: it takes any access key and any AMI id, and every instance gets an
// 8 GiB gp2 root volume in the region's default VPC.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { ROOT } from "./app.mjs";

const VENV = path.join(ROOT, ".tools/venv/bin");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function listening(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not listen on ${port} within ${timeoutMs} ms (run with MOTO_STDERR=1)`);
}

/** Starts moto; resolves to { endpoint, run(region, name, type) → instance id, stop() }. */
export async function startMoto() {
  const server = path.join(VENV, "moto_server");
  if (!fs.existsSync(server)) {
    throw new Error(`${server} is missing: create the test peers' venv with \`bash scripts/lib/pypeers.sh\``);
  }
  const port = await freePort();
  const child = spawn(server, ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", process.env.MOTO_STDERR ? "inherit" : "ignore"],
  });
  await listening(port, 30000);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    /** RunInstances of one instance named `name`; its id. */
    run(region, name, type = "t3.micro") {
      const script = [
        "import sys, boto3",
        "ec2 = boto3.client('ec2', region_name=sys.argv[2], endpoint_url=sys.argv[1],",
        "    aws_access_key_id='testing', aws_secret_access_key='testing')",
        "r = ec2.run_instances(ImageId='ami-12c6146b', InstanceType=sys.argv[4], MinCount=1, MaxCount=1,",
        "    TagSpecifications=[{'ResourceType': 'instance', 'Tags': [{'Key': 'Name', 'Value': sys.argv[3]}]}])",
        "print(r['Instances'][0]['InstanceId'])",
      ].join("\n");
      const r = spawnSync(path.join(VENV, "python"), ["-c", script, endpoint, region, name, type], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`seeding moto failed: ${r.stderr}`);
      return r.stdout.trim();
    },
    stop() {
      child.kill();
    },
  };
}
