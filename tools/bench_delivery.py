#!/usr/bin/env python3
r"""Image delivery benchmark over DDS between two processes on one host.

For each image size (640x480 and 1280x720 bgr8 by default) and each publisher reliability
(reliable, best_effort) it starts a publisher *process* at 25 Hz and a subscriber process, and
counts frames received / published. The subscriber is either our own small subscriber whose QoS
is chosen with --sub-qos (best_effort | reliable | auto; always KEEP_LAST depth 1, VOLATILE), or,
with --node, the real node::

    python -m poseflow_ros.ros.pose_tracker_node --ros-args -p stats_file:=FILE -p device:=cpu

with its default parameters, whose ``counters.received`` is read from the stats JSON it writes
at shutdown (after SIGINT).

The publisher waits until it has a matched subscriber (get_subscription_count() > 0) and 1 s more
before sending, so discovery does not count as loss.

Fast DDS configuration per side (--configs): ``shipped`` (with --node: nothing set, the node loads
its own config/fastdds_large_images.xml, as a user gets it), ``default`` (no XML profile on either
side), ``sub`` (FASTDDS_DEFAULT_PROFILES_FILE=--profile on the subscriber only), ``pub`` (publisher
only), ``both``. Any inherited FASTDDS_DEFAULT_PROFILES_FILE / RMW_FASTRTPS_USE_QOS_FROM_XML /
FASTDDS_BUILTIN_TRANSPORTS is removed first, so ``default`` really is the default (with --node the
node gets FASTDDS_DEFAULT_PROFILES_FILE pointing to a file without profiles, in case it installs a
profile of its own when the variable is unset); --log-dir keeps the subscriber logs; extra
variables can be given per side with --sub-env / --pub-env K=V (e.g.
FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA). ROS_AUTOMATIC_DISCOVERY_RANGE defaults to LOCALHOST and
ROS_DOMAIN_ID to --domain.

Writes out/bench/delivery.json (after every case) and prints a table.

    .venv/bin/python tools/bench_delivery.py                       # default vs profile on the sub
    .venv/bin/python tools/bench_delivery.py --node --configs default,sub
    .venv/bin/python tools/bench_delivery.py --configs default \
        --sub-env FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = REPO / 'config' / 'fastdds_large_images.xml'
TOPIC = '/image'
STRIP_ENV = (
    'FASTDDS_DEFAULT_PROFILES_FILE',
    'FASTRTPS_DEFAULT_PROFILES_FILE',
    'RMW_FASTRTPS_USE_QOS_FROM_XML',
    'FASTDDS_BUILTIN_TRANSPORTS',
)


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------- child roles
def _qos(reliability: str, depth: int):
    """Make the sensor-data style QoS the node itself uses (keep-last, volatile)."""
    from poseflow_ros.ros.params import make_qos

    return make_qos(reliability, depth)


def role_pub(a) -> int:
    """Publish a w x h bgr8 Image at --rate Hz for --seconds after a subscriber matched."""
    import array

    import rclpy
    from sensor_msgs.msg import Image

    w, h = (int(v) for v in a.size.split('x'))
    rclpy.init()
    node = rclpy.create_node('bench_delivery_pub')
    # A camera driver's usual choices: reliable depth 10 (rclpy's default QoS) or sensor-data
    # best effort depth 5 (qos_profile_sensor_data).
    depth = a.pub_depth or (10 if a.pub_reliability == 'reliable' else 5)
    pub = node.create_publisher(Image, TOPIC, _qos(a.pub_reliability, depth))
    msg = Image()
    msg.height, msg.width, msg.encoding, msg.step = h, w, 'bgr8', w * 3
    msg.data = array.array('B', bytes(range(256)) * (w * h * 3 // 256) + bytes(w * h * 3 % 256))
    t0 = time.monotonic()
    while pub.get_subscription_count() == 0:
        if time.monotonic() - t0 > a.match_timeout:
            print(json.dumps({'published': 0, 'error': 'no subscriber matched'}), flush=True)
            node.destroy_node()
            rclpy.try_shutdown()
            return 3
        time.sleep(0.05)
    time.sleep(1.0)
    n = int(round(a.seconds * a.rate))
    period = 1.0 / a.rate
    late = 0
    start = time.monotonic()
    for i in range(n):
        target = start + i * period
        dt = target - time.monotonic()
        if dt > 0:
            time.sleep(dt)
        elif dt < -period:
            late += 1
        msg.header.frame_id = str(i)
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
    elapsed = time.monotonic() - start
    time.sleep(0.5)  # let a reliable writer finish repairs before the process goes away
    print(
        json.dumps(
            {
                'published': n,
                'elapsed_s': round(elapsed, 3),
                'late': late,
                'depth': depth,
                'bytes': w * h * 3,
            }
        ),
        flush=True,
    )
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def role_sub(a) -> int:
    """Count frames on TOPIC with a KEEP_LAST 1 VOLATILE subscription until SIGINT."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node('bench_delivery_sub')
    rel = a.sub_qos
    if rel == 'auto':  # what the publishers offer: reliable if all are, else best effort
        t0 = time.monotonic()
        infos = []
        while not infos and time.monotonic() - t0 < a.match_timeout:
            infos = node.get_publishers_info_by_topic(TOPIC)
            if not infos:
                time.sleep(0.05)
        rel = (
            'reliable'
            if infos
            and all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos)
            else 'best_effort'
        )
    got = {'received': 0, 'bad': 0, 'ids': set()}
    expect = a.bytes

    def cb(m):
        got['received'] += 1
        got['ids'].add(m.header.frame_id)
        if expect and len(m.data) != expect:
            got['bad'] += 1

    node.create_subscription(Image, TOPIC, cb, _qos(rel, 1))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    Path(a.result).write_text(
        json.dumps(
            {
                'received': got['received'],
                'distinct': len(got['ids']),
                'bad_size': got['bad'],
                'sub_reliability': rel,
            }
        )
    )
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# ----------------------------------------------------------------------------- orchestration
def udp_rcvbuf_errors() -> int:
    """Host-wide (network namespace) count of UDP datagrams dropped.

    Those dropped because a socket buffer was full.
    """
    try:
        lines = [
            ln.split()
            for ln in Path('/proc/net/snmp').read_text().splitlines()
            if ln.startswith('Udp:')
        ]
        return int(lines[1][lines[0].index('RcvbufErrors')])
    except Exception:  # noqa: BLE001 - diagnostics only
        return -1


def sysctl(name: str):
    try:
        return int(Path('/proc/sys/' + name.replace('.', '/')).read_text())
    except Exception:  # noqa: BLE001
        return None


NO_PROFILE_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<dds xmlns="http://www.eprosima.com"><profiles>'
    '<participant profile_name="bench_delivery_not_default"><rtps/></participant>'
    '</profiles></dds>\n'
)


def side_env(
    base: dict, profile: str | None, extra: list[str], no_profile: str | None = None
) -> dict:
    env = dict(base)
    if profile:
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = profile
    elif no_profile:
        # a profiles file whose only profile is not the default one: Fast DDS defaults, and a node
        # that installs its own profile only when the user did not set the variable leaves it alone
        # ('' would make Fast DDS log an XMLPARSER error)
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = no_profile
    for kv in extra:
        k, _, v = kv.partition('=')
        env[k] = v
    return env


def stop(proc: subprocess.Popen, timeout: float):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_case(a, base_env: dict, config: str, size: str, pub_rel: str, tmp: Path, idx: int) -> dict:
    w, h = (int(v) for v in size.split('x'))
    prof = str(Path(a.profile).resolve())
    sub_prof = prof if config in ('sub', 'both') else None
    pub_prof = prof if config in ('pub', 'both') else None
    no_profile = None
    if (
        a.node and config != 'shipped'
    ):  # shipped: the node's own default (it loads the profile itself)
        no_profile = str(tmp / 'no_profile.xml')
        Path(no_profile).write_text(NO_PROFILE_XML)
    sub_env = side_env(base_env, sub_prof, a.sub_env, no_profile)
    pub_env = side_env(base_env, pub_prof, a.pub_env)
    me = [sys.executable, str(Path(__file__).resolve())]
    result = tmp / f'sub{idx}.json'
    sub_log = open(tmp / f'sub{idx}.log', 'w')
    if a.node:
        cmd = [
            sys.executable,
            '-m',
            'poseflow_ros.ros.pose_tracker_node',
            '--ros-args',
            '-p',
            f'stats_file:={result}',
            '-p',
            'device:=cpu',
        ]
    else:
        cmd = me + [
            '--role',
            'sub',
            '--sub-qos',
            a.sub_qos,
            '--result',
            str(result),
            '--bytes',
            str(w * h * 3),
            '--match-timeout',
            str(a.match_timeout),
        ]
    rcv0 = udp_rcvbuf_errors()
    sub = subprocess.Popen(cmd, env=sub_env, cwd=REPO, stdout=sub_log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    pcmd = me + [
        '--role',
        'pub',
        '--size',
        size,
        '--pub-reliability',
        pub_rel,
        '--rate',
        str(a.rate),
        '--seconds',
        str(a.seconds),
        '--match-timeout',
        str(a.match_timeout),
    ]
    if a.pub_depth:
        pcmd += ['--pub-depth', str(a.pub_depth)]
    pub = subprocess.Popen(
        pcmd, env=pub_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        pout, perr = pub.communicate(timeout=a.match_timeout + a.seconds * 3 + 30)
    except subprocess.TimeoutExpired:
        pub.kill()
        pout, perr = pub.communicate()
    time.sleep(a.drain)
    stop(sub, 30.0 if a.node else 10.0)
    sub_log.close()
    rcv1 = udp_rcvbuf_errors()
    pres = {}
    for line in reversed((pout or '').splitlines()):
        if line.startswith('{'):
            pres = json.loads(line)
            break
    row = {
        'config': config,
        'size': size,
        'pub_reliability': pub_rel,
        'subscriber': 'node' if a.node else 'bench',
        'sub_qos': 'node default' if a.node else a.sub_qos,
        'sub_profile': sub_prof,
        'pub_profile': pub_prof,
        'sub_env': a.sub_env,
        'pub_env': a.pub_env,
        'published': pres.get('published', 0),
        'received': None,
        'udp_rcvbuf_errors': (rcv1 - rcv0) if rcv0 >= 0 else None,
    }
    if pres.get('error') or pub.returncode:
        row['error'] = pres.get('error') or f'publisher rc={pub.returncode}: {(perr or "")[-500:]}'
    try:
        res = json.loads(result.read_text())
        if a.node:
            row['received'] = int(res['counters'].get('received', 0))  # absent when nothing came
            row['node_counters'] = res['counters']
            if res.get('subscription_reliability'):
                row['sub_reliability'] = res['subscription_reliability']
        else:
            row.update(
                received=res['received'],
                distinct=res['distinct'],
                bad_size=res['bad_size'],
                sub_reliability=res['sub_reliability'],
            )
    except Exception as e:  # noqa: BLE001
        row['error'] = (
            row.get('error', '') + f' subscriber result missing ({e}); see {tmp / f"sub{idx}.log"}'
        ).strip()
        row['sub_log_tail'] = (tmp / f'sub{idx}.log').read_text()[-1500:]
    pubd = row['published'] or 0
    row['ratio'] = (
        round(row['received'] / pubd, 4) if pubd and row['received'] is not None else None
    )
    return row


def print_table(rows: list[dict]):
    hdr = (
        f"{'config':7} {'size':9} {'publisher':12} {'subscriber':22} {'recv/pub':>11} {'%':>7} "
        f"{'udpdrop':>8}"
    )
    log(hdr)
    log('-' * len(hdr))
    for r in rows:
        sub = f"{r['subscriber']}:{r.get('sub_reliability') or r['sub_qos']}"
        rp = f"{r['received'] if r['received'] is not None else '-'}/{r['published']}"
        pct = f"{100 * r['ratio']:.1f}" if r['ratio'] is not None else '-'
        log(
            f"{r['config']:7} {r['size']:9} {r['pub_reliability']:12} {sub:22} {rp:>11} {pct:>7} "
            f"{r['udp_rcvbuf_errors'] if r['udp_rcvbuf_errors'] is not None else '-':>8}"
            + (f"  ERROR: {r['error'][:120]}" if r.get('error') else '')
        )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        '--seconds', type=float, default=10.0, help='publishing time per case (default 10)'
    )
    ap.add_argument('--rate', type=float, default=25.0, help='publish rate in Hz (default 25)')
    ap.add_argument('--sizes', default='640x480,1280x720')
    ap.add_argument('--pub-reliabilities', default='reliable,best_effort')
    ap.add_argument(
        '--pub-depth',
        type=int,
        default=0,
        help='publisher KEEP_LAST depth (default: 10 if reliable, 5 if best effort)',
    )
    ap.add_argument(
        '--sub-qos',
        choices=('best_effort', 'reliable', 'auto'),
        default='best_effort',
        help='reliability of our subscriber (KEEP_LAST 1, VOLATILE); auto = what the '
        'publishers offer. Ignored with --node.',
    )
    ap.add_argument('--node', action='store_true', help='subscriber = the real pose_tracker node')
    ap.add_argument(
        '--configs',
        default='default,sub',
        help='comma list of default|sub|pub|both: which side gets FASTDDS_DEFAULT_PROFILES_FILE; '
        "with --node also 'shipped': the environment untouched (what a user gets)",
    )
    ap.add_argument('--profile', default=str(DEFAULT_PROFILE), help='Fast DDS XML profile file')
    ap.add_argument(
        '--sub-env',
        action='append',
        default=[],
        metavar='K=V',
        help='extra env for the subscriber',
    )
    ap.add_argument(
        '--pub-env', action='append', default=[], metavar='K=V', help='extra env for the publisher'
    )
    ap.add_argument(
        '--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', '201') or 201)
    )
    ap.add_argument(
        '--drain',
        type=float,
        default=1.0,
        help='seconds between publisher exit and SIGINT to the sub',
    )
    ap.add_argument('--match-timeout', type=float, default=120.0)
    ap.add_argument('--out', default=str(REPO / 'out' / 'bench' / 'delivery.json'))
    ap.add_argument(
        '--log-dir', help='keep the subscriber logs / results here (default: a temp dir)'
    )
    # internal
    ap.add_argument('--role', choices=('pub', 'sub'), help=argparse.SUPPRESS)
    ap.add_argument('--size', help=argparse.SUPPRESS)
    ap.add_argument('--pub-reliability', help=argparse.SUPPRESS)
    ap.add_argument('--result', help=argparse.SUPPRESS)
    ap.add_argument('--bytes', type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.role == 'pub':
        return role_pub(a)
    if a.role == 'sub':
        return role_sub(a)

    configs = [c.strip() for c in a.configs.split(',') if c.strip()]
    for c in configs:
        if c not in ('default', 'sub', 'pub', 'both', 'shipped'):
            ap.error(f'unknown config {c!r}')
    if any(c != 'default' for c in configs) and not Path(a.profile).is_file():
        ap.error(f'profile {a.profile} not found')
    base = {k: v for k, v in os.environ.items() if k not in STRIP_ENV}
    base.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    base['ROS_DOMAIN_ID'] = str(a.domain)
    base.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    base['PYTHONUNBUFFERED'] = '1'
    info = {
        'host': platform.node(),
        'python': platform.python_version(),
        'cpus': os.cpu_count(),
        'rmem_max': sysctl('net.core.rmem_max'),
        'rmem_default': sysctl('net.core.rmem_default'),
        'wmem_max': sysctl('net.core.wmem_max'),
        'ROS_AUTOMATIC_DISCOVERY_RANGE': base['ROS_AUTOMATIC_DISCOVERY_RANGE'],
        'ROS_DOMAIN_ID': a.domain,
        'RMW_IMPLEMENTATION': base['RMW_IMPLEMENTATION'],
        'seconds': a.seconds,
        'rate_hz': a.rate,
        'profile': str(Path(a.profile).resolve()),
        'argv': sys.argv[1:],
    }
    try:
        from importlib.metadata import version

        info['versions'] = {
            p: version(p) for p in ('ros-rclpy', 'ros-rmw-fastrtps-cpp', 'ros-fastdds')
        }
    except Exception:  # noqa: BLE001
        pass
    log(
        f"[bench_delivery] {info['ROS_AUTOMATIC_DISCOVERY_RANGE']} domain {a.domain}, rmem_max "
        f"{info['rmem_max']}, rmem_default {info['rmem_default']}, {a.seconds:g} s at "
        f"{a.rate:g} Hz per case, subscriber {'node' if a.node else a.sub_qos}"
    )
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    cases = [
        (c, s, r)
        for c in configs
        for s in a.sizes.split(',')
        for r in a.pub_reliabilities.split(',')
    ]
    with tempfile.TemporaryDirectory(prefix='bench_delivery_') as tmp:
        if a.log_dir:
            tmp = a.log_dir
            Path(tmp).mkdir(parents=True, exist_ok=True)
        for i, (c, s, r) in enumerate(cases):
            log(
                f'[bench_delivery] case {i + 1}/{len(cases)}: config={c} size={s} publisher={r} '
                '...'
            )
            t0 = time.monotonic()
            row = run_case(a, base, c, s, r, Path(tmp), i)
            row['wall_s'] = round(time.monotonic() - t0, 1)
            rows.append(row)
            log(
                f"    received {row['received']} / published {row['published']}"
                + (f" ({100 * row['ratio']:.1f} %)" if row['ratio'] is not None else '')
                + (
                    f"  udp rcvbuf drops {row['udp_rcvbuf_errors']}"
                    if row['udp_rcvbuf_errors']
                    else ''
                )
                + (f"  ERROR {row['error']}" if row.get('error') else '')
            )
            out.write_text(json.dumps({'info': info, 'results': rows}, indent=1))
    log('')
    print_table(rows)
    log(f'\n[bench_delivery] wrote {out}')
    return 0 if all(not r.get('error') for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
