"""Runs fakepve (PyPI) in-process for the Proxmox provider's tests and benchmarks.

fakepve's own command line seeds guests only; its API tokens, extra users and
permissions are set in Python, so the tests start this instead:

    python fakepve_harness.py SCENARIO.json

SCENARIO: {"nodes": ["pve1", "pve2"], "cluster_name": "lab",
           "guests": [{"vmid", "name", "node", "status", "type": "qemu"|"lxc",
                       "config": {...}, "pool", "template", "lock"}],
           "generate": {"count": 2000, "nodes": 4},   # optional: many similar VMs
           "tokens": {"user@pve!ci": "secret"}, "users": {"user@pve": "pw"},
           "grants": [["user@pve", "/vms", "VM.Audit"]],
           "vzdump": {"fixture_dir": DIR, "dump_base": DIR}}   # optional, see below

With "vzdump", POST /nodes/{node}/vzdump runs a backup as PVE does for a user who
may not run `vzdump --stdout` over SSH: a task (with the VM locked) that writes
FIXTURE_DIR/<vmid>.vma.zst to the storage's dump folder as
vzdump-qemu-<vmid>-<time>.vma.zst, logs "creating vzdump archive '<path>'" and
adds the volume to the storage's content. The storage "local" keeps its files in
DUMP_BASE (its `path`), so the SSH server of the tests can serve them. fakepve
itself has no such backup: its POST vzdump only answers with a UPID.

Prints one JSON line {"url", "fingerprint"} (SHA-256 of the certificate's DER, hex) once
listening on 127.0.0.1 and a free port, then serves until stdin closes or SIGTERM.
"""

import asyncio
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

from fakepve.certs import make_cert
from fakepve.model import TaskError
from fakepve.routing import die
from fakepve.server import FakePve


class HarnessPve(FakePve):
    """fakepve with a backup that writes a real archive (see the module docs)."""

    vzdump = None

    def _routes_vzdump(self):
        # Registered through fakepve's own stateful table, so the schema's
        # permission checks (VM.Backup, Datastore.AllocateSpace) apply.
        return [('POST', '/nodes/{node}/vzdump', self._harness_vzdump)] if self.vzdump else []

    async def _harness_vzdump(self, v, user):
        vmid = int(str(v['vmid']).split(',')[0])
        storage = v.get('storage') or 'local'
        mode = v.get('mode') or 'snapshot'
        vm = self.guest(vmid)
        if vm is None or vm.node != v['node']:
            raise die("unable to find VM '{0}' on node '{1}'".format(vmid, v['node']))
        # The schema leaves these to the code (PVE/API2/VZDump.pm and PVE/VZDump.pm check them).
        self.require(user, '/storage/' + storage, 'Datastore.AllocateSpace')
        self.require(user, '/vms/{0}'.format(vmid), 'VM.Backup')
        name = 'vzdump-qemu-{0}-{1}.vma.zst'.format(vmid, time.strftime('%Y_%m_%d-%H_%M_%S'))
        volname = 'backup/' + name
        path = self._volume_path(storage, volname, 'backup')
        fixture = os.path.join(self.vzdump['fixture_dir'], '{0}.vma.zst'.format(vmid))
        log = ['INFO: starting new backup job: vzdump {0} --storage {1} --mode {2} --compress zstd'.format(
                   vmid, storage, mode),
               'INFO: Starting Backup of VM {0} (qemu)'.format(vmid),
               'INFO: Backup started at {0}'.format(time.strftime('%Y-%m-%d %H:%M:%S')),
               'INFO: backup mode: {0}'.format(mode),
               "INFO: creating vzdump archive '{0}'".format(path),
               'INFO: started backup task \'c0ffee00-0000-4000-8000-00000000{0}\''.format(vmid),
               'INFO:  50% (2.0 GiB of 4.0 GiB) in 3s, read: 682.7 MiB/s, write: 120.3 MiB/s',
               'INFO: 100% (4.0 GiB of 4.0 GiB) in 6s, read: 682.7 MiB/s, write: 120.3 MiB/s']

        async def body():
            vm.lock = 'backup'
            vm.config['lock'] = 'backup'
            try:
                if not os.path.isfile(fixture):
                    raise TaskError('Backup of VM {0} failed - no fixture at {1}'.format(vmid, fixture))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                shutil.copyfile(fixture, path)
                self.storages[storage].setdefault('volumes', {})[volname] = {
                    'content': 'backup', 'format': 'vma.zst', 'size': os.path.getsize(path), 'vmid': vmid,
                    'ctime': int(time.time())}
            finally:
                vm.lock = None
                vm.config.pop('lock', None)
            return 'INFO: Finished Backup of VM {0} (00:00:06)'.format(vmid)
        return await self.task(vm.node, 'vzdump', '', user, body, vm=vm, lock=False, log=log)


def build(scenario):
    pve = HarnessPve(user='root@pam', password=scenario.get('root_password', 'secret'), host='127.0.0.1', port=0)
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
    if scenario.get('vzdump'):
        pve.vzdump = scenario['vzdump']
        pve.storages['local']['path'] = scenario['vzdump']['dump_base']
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
