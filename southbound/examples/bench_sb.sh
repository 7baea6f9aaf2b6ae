#!/bin/bash
# Usage: bench_sb.sh OUT.db. Builds the controller bench's SB (4 switches x 27 LSPs, router, LB, port group
# ACLs over a 1,000-address set) with real ovn-northd and copies sb.db out.
set -e
D=$(mktemp -d /tmp/ctrl9-sb.XXXX)
export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D OVN_RUNDIR=$D OVN_LOGDIR=$D
cleanup() { for p in $D/*.pid; do [ -f "$p" ] && kill $(cat $p) 2>/dev/null || true; done; sleep 0.3; }
trap cleanup EXIT
for db in nb sb; do
  s=/usr/share/ovn/ovn-$db.ovsschema
  ovsdb-tool create $D/$db.db $s
  ovsdb-server --detach --no-chdir --pidfile=$D/$db.pid --unixctl=$D/$db.ctl --remote=punix:$D/$db.sock --log-file=$D/$db.log $D/$db.db
done
ovn-northd --detach --no-chdir --pidfile=$D/northd.pid --unixctl=$D/northd.ctl --log-file=$D/northd.log --ovnnb-db=unix:$D/nb.sock --ovnsb-db=unix:$D/sb.sock
NB="ovn-nbctl --db=unix:$D/nb.sock"
cmd="lr-add lr0"
for s in 0 1 2 3; do
  cmd+=" -- ls-add sw$s -- lrp-add lr0 lrp$s 00:00:00:00:ff:0$s 10.$s.0.254/24 -- lsp-add sw$s sw$s-lr0 -- lsp-set-type sw$s-lr0 router -- lsp-set-addresses sw$s-lr0 router -- lsp-set-options sw$s-lr0 router-port=lrp$s"
  for i in $(seq 0 26); do
    n=lp${s}x$i
    cmd+=" -- lsp-add sw$s $n -- lsp-set-addresses $n \"50:54:00:00:$(printf %02x $s):$(printf %02x $i) 10.$s.0.$((i+1))\""
  done
done
addrs=""
for i in $(seq 0 999); do addrs+="\\\"172.$((16 + i/65536)).$(( (i/256)%256 )).$((i%256))\\\","; done
cmd+=" -- create Address_Set name=as_big addresses=\"[${addrs%,}]\""
ports=""
for s in 0 1 2 3; do for i in $(seq 0 24); do ports+=" lp${s}x$i"; done; done
cmd+=" -- pg-add pg_all$ports"
cmd+=" -- --type=port-group acl-add pg_all to-lport 1001 'outport == @pg_all && ip4.src == \$as_big && tcp.dst == 22' allow-related"
cmd+=" -- --type=port-group acl-add pg_all to-lport 1000 'outport == @pg_all && ip4' drop"
cmd+=" -- lb-add lb0 172.30.0.1:80 10.0.0.2:80,10.1.0.2:80,10.2.0.2:80 tcp"
for s in 0 1 2 3; do cmd+=" -- ls-lb-add sw$s lb0"; done
eval "$NB $cmd"
$NB --wait=sb sync
ovn-sbctl --db=unix:$D/sb.sock chassis-add hv1 geneve 127.0.0.1
ovn-sbctl --db=unix:$D/sb.sock --columns=_uuid list Logical_Flow | grep -c _uuid
ovsdb-client backup unix:$D/sb.sock OVN_Southbound > ${1:-bench-sb.db}
ls -la ${1:-bench-sb.db}
cleanup; trap - EXIT; rm -rf $D
