"""Runs fakepve (PyPI) in-process for the Proxmox provider's tests and benchmarks.

fakepve's own command line seeds guests only; its API tokens, extra users and
permissions are set in Python, so the tests start this instead:

    python fakepve_harness.py SCENARIO.json

SCENARIO: {"nodes": ["pve1", "pve2"], "cluster_name": "lab",
           "guests": [{"vmid", "name", "node", "status", "type": "qemu"|"lxc",
                       "config": {...}, "pool", "template", "lock"}],
           "generate": {"count": 2000, "nodes": 4},   # optional: many similar VMs
           "tokens": {"user@pve!ci": "secret"}, "users": {"user@pve": "pw"},
           "grants": [["user@pve", "/vms", "VM.Audit"]]}

Prints one JSON line {"url", "fingerprint"} (SHA-256 of the certificate's DER, hex) once
listening on 127.0.0.1 and a free port, then serves until stdin closes or SIGTERM.
"""

import asyncio
import hashlib
import json
import shutil
import signal
import sys
import tempfile
import threading

from fakepve.certs import make_cert
from fakepve.server import FakePve


def build(scenario):
    pve = FakePve(user='root@pam', password=scenario.get('root_password', 'secret'), host='127.0.0.1', port=0)
    pve.time_scale = 0
    pve.cluster_name = scenario.get('cluster_name', pve.cluster_name)
    for node in scenario.get('nodes', []):
        pve.add_node(node)
    for guest in scenario.get('guests', []):
        add_guest(pve, guest)
    gen = scenario.get('generate')
    if gen:
        nodes = ['node{0:02d}'.format(i + 1) for i in range(gen.get('nodes', 1))]
        for i in range(gen['count']):
            add_guest(pve, {
                'vmid': 1000 + i, 'name': 'vm-{0:05d}'.format(i), 'node': nodes[i % len(nodes)],
                'status': 'running' if i % 3 else 'stopped',
                'pool': 'pool{0}'.format(i % 5) if i % 2 else None,
                'config': {'cores': 1 + i % 4, 'sockets': 1, 'memory': str(512 * (1 + i % 8)),
                           'ostype': 'l26', 'scsi0': 'local-lvm:vm-{0}-disk-0,size=8G'.format(1000 + i),
                           'net0': 'virtio=BC:24:11:00:{0:02X}:{1:02X},bridge=vmbr0'.format(i // 256 % 256, i % 256),
                           'tags': 'gen;tier{0}'.format(i % 3)},
            })
    pve.apitokens.update(scenario.get('tokens', {}))
    pve.users.update(scenario.get('users', {}))
    for user, path, *privs in scenario.get('grants', []):
        pve.grant(user, path, *privs)
    return pve


def add_guest(pve, g):
    if g.get('type', 'qemu') == 'lxc':
        pve.add_ct(g['vmid'], g.get('name'), node=g.get('node', 'pve1'), status=g.get('status', 'stopped'),
                   config=g.get('config', {}), template=g.get('template', False), lock=g.get('lock'))
        return
    vm = pve.add_vm(g['vmid'], g['name'], node=g.get('node', 'pve1'), status=g.get('status', 'stopped'),
                    config=g.get('config', {}), template=g.get('template', False), lock=g.get('lock'),
                    pool=g.get('pool'))
    return vm


async def main(path):
    with open(path) as f:
        scenario = json.load(f)
    pve = build(scenario)
    tmp = tempfile.mkdtemp(prefix='fakepve-')
    try:
        certfile, keyfile, der = make_cert(tmp, hosts=('127.0.0.1',))
        await pve.start(certfile, keyfile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({'url': pve.url, 'fingerprint': hashlib.sha256(der).hexdigest()}), flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    # The test process holds our stdin (a pipe): when it dies, so do we.
    def watch_stdin():
        while sys.stdin.buffer.read1(4096):
            pass
        loop.call_soon_threadsafe(done.set)
    threading.Thread(target=watch_stdin, daemon=True).start()
    await done.wait()
    await pve.stop()


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1]))
