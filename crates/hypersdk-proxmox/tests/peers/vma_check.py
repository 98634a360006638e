"""Reads a VMA archive with dissect.archive (an independent reader) and
prints, as JSON: the uuid, each config's name, length and SHA-256, and each
device's id, name, size and the SHA-256 of its full contents.

Usage: python vma_check.py ARCHIVE.vma
"""

import hashlib
import json
import sys

from dissect.archive.vma import VMA

CHUNK = 1 << 20


def main() -> int:
    with open(sys.argv[1], "rb") as fh:
        vma = VMA(fh)
        configs = [
            {"name": name, "len": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in vma.configs().items()
        ]
        devices = []
        for dev in vma.devices():
            stream = dev.open()
            digest = hashlib.sha256()
            total = 0
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                total += len(chunk)
            devices.append(
                {
                    "id": dev.id,
                    "name": dev.name,
                    "size": dev.size,
                    "read": total,
                    "sha256": digest.hexdigest(),
                }
            )
        json.dump({"uuid": str(vma.uuid), "configs": configs, "devices": devices}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
