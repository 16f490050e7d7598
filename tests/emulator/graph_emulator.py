#!/usr/bin/python3
"""Local Microsoft Graph emulator for the msgraph_security_fdw tests.

    /usr/bin/python3 tests/emulator/graph_emulator.py [--port 0] [--seed 42] ...

Generates the tenant's data (tenant.py), then listens on 127.0.0.1 and
prints the bound port alone on the first line of stdout: that line means
"ready".  Logs go to stderr.  Serves until SIGTERM or SIGINT, then exits 0.
Python 3.11 standard library only.  See README.md beside this file.
"""

import argparse
import gc
import logging
import os
import signal
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import assertion    # noqa: E402  (after the path fix above)
import directory_data  # noqa: E402
import identity     # noqa: E402
import schema       # noqa: E402
import server       # noqa: E402
import tenant       # noqa: E402
import tenants      # noqa: E402
import timestamps   # noqa: E402

log = logging.getLogger("graph_emulator")


def parse_args(argv):
    p = argparse.ArgumentParser(description="Local Microsoft Graph security emulator.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any)")
    p.add_argument("--seed", default="42", help="seed of the generated data")
    p.add_argument("--now", default="2026-06-01T00:00:00Z", type=_timestamp,
                   help="the tenant's present: every generated timestamp is before it")
    p.add_argument("--alerts", type=_count, default=300)
    p.add_argument("--incidents", type=_count, default=120)
    p.add_argument("--secure-scores", type=_count, default=90)
    p.add_argument("--risk-detections", type=_count, default=150)
    p.add_argument("--risky-users", type=_count, default=60)
    p.add_argument("--sp-risk-detections", type=_count, default=40)
    # the inventories (directory_data.py): at least what the alerts point at
    counts = directory_data.DEFAULT_COUNTS
    p.add_argument("--users", type=_count, default=counts[schema.USERS.name])
    p.add_argument("--devices", type=_count, default=counts[schema.DEVICES.name])
    p.add_argument("--groups", type=_count, default=counts[schema.GROUPS.name])
    p.add_argument("--service-principals", type=_count,
                   default=counts[schema.SERVICE_PRINCIPALS.name])
    p.add_argument("--managed-devices", type=_count,
                   default=counts[schema.MANAGED_DEVICES.name])
    p.add_argument("--tenant", action="append", default=[], type=_tenant,
                   metavar="ID[:key=value,...]",
                   help="another tenant (repeatable): keys seed, domain, fault (a status, "
                        "hang, reset), admin-secret, reader-secret, and the counts alerts, "
                        "incidents, secure-scores, risk-detections, risky-users, "
                        "sp-risk-detections, users, devices, groups, service-principals, "
                        "managed-devices (default: this command line's)")
    p.add_argument("--hunting-rows", type=_count, default=2000,
                   help="rows of the DeviceEvents advanced-hunting table")
    p.add_argument("--latency-ms", type=_count, default=0,
                   help="delay before every Graph response")
    p.add_argument("--token-lifetime", type=int, default=3599,
                   help="expires_in of issued tokens, seconds")
    p.add_argument("--no-gzip", action="store_true",
                   help="never compress, whatever Accept-Encoding says")
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    p.add_argument("--no-warmup", action="store_true",
                   help="do not pre-serialize entities in the background after start-up")
    p.add_argument("--certificate", action="append", default=[], type=_certificate,
                   metavar="CLIENT_ID=PEM_FILE",
                   help="register a certificate for an app's client assertions (repeatable)")
    p.add_argument("--throttle", action="store_true",
                   help="enforce Graph's documented throttling limits (config 'throttle')")
    p.add_argument("--tls-cert", metavar="PEM",
                   help="serve HTTPS only, with this certificate (chain) file")
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    args = p.parse_args(argv)
    if args.token_lifetime < 1:
        p.error("--token-lifetime must be at least 1")
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    return args


def tls_context(args):
    """The server's TLS context, or None for plain HTTP."""
    if args.tls_cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


def _timestamp(text):
    try:
        return timestamps.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an ISO 8601 timestamp: %r" % text) from None


def _certificate(text):
    client_id, sep, path = text.partition("=")
    if not sep or not path:
        raise argparse.ArgumentTypeError("expected CLIENT_ID=PEM_FILE: %r" % text)
    try:
        with open(path, encoding="ascii") as f:
            return client_id, f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise argparse.ArgumentTypeError("cannot read %s: %s" % (path, e)) from None


def _tenant(text):
    try:
        return tenants.parse_option(text)
    except tenants.TenantSpecError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def counts_from(args):
    return {schema.ALERTS.name: args.alerts, schema.INCIDENTS.name: args.incidents,
            schema.SECURE_SCORES.name: args.secure_scores,
            schema.RISK_DETECTIONS.name: args.risk_detections,
            schema.RISKY_USERS.name: args.risky_users,
            schema.SP_RISK_DETECTIONS.name: args.sp_risk_detections,
            schema.USERS.name: args.users, schema.DEVICES.name: args.devices,
            schema.GROUPS.name: args.groups,
            schema.SERVICE_PRINCIPALS.name: args.service_principals,
            schema.MANAGED_DEVICES.name: args.managed_devices}


def _stop(signum, frame):
    # raised in the main thread, out of serve_forever()'s select loop
    raise SystemExit(0)


def warm_up(httpd):
    started = time.monotonic()
    httpd.graph.warm_up(httpd.stopping)
    httpd.tenants.warm_up(httpd.stopping)
    log.info("warm-up: every entity serialized in %.1f s", time.monotonic() - started)


def main(argv=None):
    args = parse_args(argv)
    try:
        context = tls_context(args)
    except (OSError, ssl.SSLError) as e:
        print("graph_emulator.py: cannot load the TLS certificate or key: %s" % e,
              file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s graph-emulator: %(message)s")
    started = time.monotonic()
    data = tenant.Tenant(args.seed, args.now, counts_from(args))
    # everything allocated so far lives until exit: keep the collector's
    # full sweeps off those millions of objects while serving
    gc.freeze()
    log.info("generated %s in %.1f s", ", ".join(
        "%d %s" % (len(c), name) for name, c in data.collections.items()),
        time.monotonic() - started)
    httpd = server.EmulatorServer(data, port=args.port, gzip=not args.no_gzip,
                                  latency_ms=args.latency_ms,
                                  token_lifetime=args.token_lifetime, quiet=args.quiet,
                                  hunting_rows=args.hunting_rows,
                                  throttle_limits=args.throttle, tls_context=context)
    for spec in args.tenant:
        try:
            site = httpd.tenants.add(spec)
        except tenants.TenantSpecError as e:
            log.error("--tenant %s: %s", spec.get("id"), e)
            return 2
        log.info("tenant %s (%s) added", site.tenant_id, site.domain)
    for client_id, pem in args.certificate:
        if client_id not in identity.APPS_BY_CLIENT_ID:
            log.error("--certificate: no registered app has client_id %s", client_id)
            return 2
        try:
            cert = httpd.certificates.register(client_id, pem)
        except assertion.CertificateError as e:
            log.error("--certificate for %s: %s", client_id, e)
            return 2
        log.info("certificate registered for %s: x5t#S256 %s, valid %s to %s", client_id,
                 cert["x5t#S256"], cert["not_before"], cert["not_after"])
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(httpd.port, flush=True)
    log.info("listening on %s://127.0.0.1:%d", httpd.scheme, httpd.port)
    if not args.no_warmup:
        threading.Thread(target=warm_up, args=(httpd,), name="warm-up", daemon=True).start()
    try:
        httpd.serve_forever()
    except SystemExit:
        pass
    finally:
        httpd.stopping.set()
        httpd.server_close()
        httpd.certificates.close()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
