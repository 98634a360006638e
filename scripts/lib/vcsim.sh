#!/usr/bin/env bash
# shellcheck shell=bash
# Builds the vSphere test peer — vcsim (govmomi's vCenter simulator) and govc — into
# $ROOT/.tools/bin from the Go module proxy, at one pinned govmomi release.
#
#   bash scripts/lib/vcsim.sh            # build when missing or at another version
#   source scripts/lib/vcsim.sh && ensure_vcsim
#
# Pinned release: GOVMOMI_VERSION below, the newest on the module proxy when this was
# written. (`go list -m -versions github.com/vmware/govmomi` lists only v0.18.0 here;
# ask for versions one by one: `go list -m -json github.com/vmware/govmomi@v0.56.0`.)
# vcsim's ExportSnapshot needs >= 0.51.
#
# Why not `go install github.com/vmware/govmomi/vcsim@vX`: since govmomi v0.47 the
# `vcsim` and `govc` directories are separate sub-modules with a
# `replace github.com/vmware/govmomi => ../` directive (see govmomi's CHANGELOG,
# "Minimum version selection"), so `go install …@vX` no longer works, and the module
# proxy has no versions of those sub-modules at all (404). The simulator (`simulator`)
# and govc's commands (`cli/...`) are still packages of the main module, so this script
# writes two small `main` packages of our own into .tools/src/govmomi-peer (a throwaway
# module that requires govmomi at the pinned version) and builds them there:
#   - vcsim: a VPX model with vcsim's usual flags (-l, -dc, -cluster, -host,
#     -standalone-host, -vm, -pool, -folder, -ds, -username, -password, -tls, -tlscert,
#     -tlskey, -trace); prints `export GOVC_URL=… GOVC_SIM_PID=…` (URL without
#     credentials) on its first line of stdout, then serves until SIGINT/SIGTERM.
#     The optional non-SOAP endpoints of the upstream binary (vAPI, CNS, …) are not
#     registered: HyperSDK only speaks the SOAP API, /folder and /nfc.
#   - govc: `cli.Run` with every command package under cli/ linked in (listed with
#     `go list` at build time, so it tracks the pinned version).
# Nothing from govmomi is committed: sources come from the module proxy into the Go
# module cache, and the binaries live in .tools/ (ignored by git).
#
# A stamp file (.tools/bin/.vcsim-version) records the version built, so a second run
# is a no-op and a bump of GOVMOMI_VERSION rebuilds.

GOVMOMI_VERSION="${GOVMOMI_VERSION:-v0.56.0}"

_vcsim_write_sources() {
  local src="$1"
  mkdir -p "$src/vcsim" "$src/govc"
  cat >"$src/go.mod" <<EOF
module hypersdk.invalid/govmomi-peer

go 1.24

require github.com/vmware/govmomi $GOVMOMI_VERSION
EOF
  cat >"$src/vcsim/main.go" <<'EOF'
// vcsim for HyperSDK's tests: govmomi's simulator.VPX model behind a TLS listener.
// Written for HyperSDK (see scripts/lib/vcsim.sh for why it is not upstream's main).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	m := simulator.VPX()
	flag.IntVar(&m.Datacenter, "dc", m.Datacenter, "datacenters")
	flag.IntVar(&m.Cluster, "cluster", m.Cluster, "clusters per datacenter")
	flag.IntVar(&m.ClusterHost, "host", m.ClusterHost, "hosts per cluster")
	flag.IntVar(&m.Host, "standalone-host", m.Host, "standalone hosts per datacenter")
	flag.IntVar(&m.Datastore, "ds", m.Datastore, "local datastores")
	flag.IntVar(&m.Machine, "vm", m.Machine, "virtual machines per resource pool")
	flag.IntVar(&m.Pool, "pool", m.Pool, "resource pools per compute resource")
	flag.IntVar(&m.Folder, "folder", m.Folder, "folders")
	flag.BoolVar(&m.Autostart, "autostart", m.Autostart, "power on the model's VMs")
	listen := flag.String("l", "127.0.0.1:8989", "listen address (port 0 picks a free port)")
	user := flag.String("username", "", "login user name (any when empty)")
	pass := flag.String("password", "", "login password (any when empty)")
	useTLS := flag.Bool("tls", true, "serve HTTPS")
	certFile := flag.String("tlscert", "", "PEM certificate (built-in self-signed one when empty)")
	keyFile := flag.String("tlskey", "", "PEM private key for -tlscert")
	flag.BoolVar(&simulator.Trace, "trace", simulator.Trace, "trace SOAP to stderr")
	flag.Parse()

	if err := m.Create(); err != nil {
		log.Fatal(err)
	}
	listenURL := &url.URL{Host: *listen}
	if *user != "" {
		listenURL.User = url.UserPassword(*user, *pass)
	}
	m.Service.Listen = listenURL
	if *useTLS {
		m.Service.TLS = new(tls.Config)
		if *certFile != "" {
			pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				log.Fatal(err)
			}
			m.Service.TLS.Certificates = []tls.Certificate{pair}
		}
	}
	server := m.Service.NewServer()
	shown := *server.URL
	shown.User = nil
	fmt.Printf("export GOVC_URL=%s GOVC_SIM_PID=%d\n", shown.String(), os.Getpid())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	server.Close()
	m.Remove()
}
EOF
}

_vcsim_write_govc_main() {
  local src="$1" pkgs
  # Every package under cli/ except cli itself and flag/helper-only internals; their
  # init functions register govc's commands.
  pkgs="$(cd "$src" && go list -mod=mod github.com/vmware/govmomi/cli/... |
    grep -v -e '/internal' -e '^github.com/vmware/govmomi/cli$')" || return 1
  {
    printf '%s\n' '// govc for HyperSDK tests and benchmarks: govmomi'"'"'s cli.Run with all commands.' \
      '// Generated by scripts/lib/vcsim.sh.' 'package main' '' 'import (' '	"os"' '' \
      '	"github.com/vmware/govmomi/cli"'
    local p
    for p in $pkgs; do printf '\t_ "%s"\n' "$p"; done
    printf '%s\n' ')' '' 'func main() { os.Exit(cli.Run(os.Args[1:])) }'
  } >"$src/govc/main.go"
}

ensure_vcsim() {
  local root bin stamp src
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  bin="$root/.tools/bin"
  src="$root/.tools/src/govmomi-peer"
  stamp="$bin/.vcsim-version"
  if [[ -x "$bin/vcsim" && -x "$bin/govc" && -f "$stamp" && "$(cat "$stamp")" == "$GOVMOMI_VERSION" ]]; then
    printf 'vcsim: %s already built in %s\n' "$GOVMOMI_VERSION" "$bin"
    return 0
  fi
  if ! command -v go >/dev/null; then
    if [[ -x /usr/local/go/bin/go ]]; then
      PATH="/usr/local/go/bin:$PATH"
    else
      printf 'error: go not found; install Go >= 1.24 to build vcsim\n' >&2
      return 1
    fi
  fi
  printf 'vcsim: building vcsim and govc from govmomi %s into %s (a few minutes on 2 cores)\n' \
    "$GOVMOMI_VERSION" "$bin"
  rm -rf "$src"
  mkdir -p "$bin" "$src"
  _vcsim_write_sources "$src" || return 1
  (
    cd "$src" &&
      export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" &&
      go mod tidy &&
      _vcsim_write_govc_main "$src" &&
      go mod tidy &&
      go build -trimpath -o "$bin/vcsim" ./vcsim &&
      go build -trimpath -o "$bin/govc" ./govc
  ) || {
    printf 'error: building vcsim/govc failed (see above)\n' >&2
    return 1
  }
  printf '%s' "$GOVMOMI_VERSION" >"$stamp"
  printf 'vcsim: ready (govmomi %s)\n' "$GOVMOMI_VERSION"
}

# Run directly: build. Sourced: only define the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  ensure_vcsim
fi
