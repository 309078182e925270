"""One-shot set-up steps of `scripts/stack.sh` (the production shape as processes).

The shell script starts and stops the services; these steps need Python libraries:
the Dagster instance file, the S3 bucket and the SYNTHETIC seed corpus, free ports.
Everything arrives as arguments: this script reads no environment variable itself
(boto3 reads its credentials and endpoint from the environment, as in production).

    python scripts/stack_setup.py dagster-yaml TEMPLATE OUT
    python scripts/stack_setup.py bucket ENDPOINT BUCKET
    python scripts/stack_setup.py seed ENDPOINT s3://BUCKET/PREFIX SCRATCH [CORPUS_DIR]
    python scripts/stack_setup.py free-ports N
"""

from __future__ import annotations

import argparse
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

# The demo's corpus (spoiler_assets.demo.DEMO_SPEC): SYNTHETIC, not IMDB data.
_SEED_ARGS = ["--reviews", "6000", "--movies", "100", "--seed", "7"]


def dagster_yaml(template: Path, out: Path) -> None:
    """The instance file of deploy/ with the Postgres port taken from DAGSTER_PG_PORT
    (the template may pin 5432, the port inside compose; the stack's is configurable)
    and the psycopg2 driver unless the template names one."""
    config: dict[str, Any] = yaml.safe_load(template.read_text()) or {}
    postgres = config.get("storage", {}).get("postgres", {}).get("postgres_db")
    if postgres is None:
        raise SystemExit(f"{template}: no storage.postgres.postgres_db section to run on Postgres")
    postgres["port"] = {"env": "DAGSTER_PG_PORT"}
    # SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3; the lock ships psycopg2.
    postgres.setdefault("scheme", "postgresql+psycopg2")
    config.setdefault("telemetry", {"enabled": False})
    config.setdefault("nux", {"enabled": False})
    out.write_text(
        "# Written by scripts/stack.sh from deploy/dagster.yaml; edit the template instead.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
        print(f"  created bucket {bucket}")


def seed(endpoint: str, source_uri: str, scratch: Path, corpus_dir: Path | None) -> None:
    """Upload the source files unless the source prefix already holds them: the given
    folder, or the demo's SYNTHETIC corpus generated into `scratch`."""
    import boto3

    from spoiler_assets.data.kaggle import DETAILS_FILE, REVIEWS_FILE, SYNTHETIC_MARKER

    bucket, _, prefix = source_uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=endpoint)
    key = f"{prefix.rstrip('/')}/{REVIEWS_FILE}".lstrip("/")
    if s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0):
        print(f"  source: {source_uri} already holds {REVIEWS_FILE}")
        return
    if corpus_dir is None:
        from spoiler_assets.data.synthetic import main as generate

        corpus_dir = scratch
        generate(["--out", str(scratch), *_SEED_ARGS])
    for name in (REVIEWS_FILE, DETAILS_FILE, SYNTHETIC_MARKER):
        if (corpus_dir / name).exists():
            s3.upload_file(str(corpus_dir / name), bucket, f"{prefix.rstrip('/')}/{name}".lstrip("/"))
    print(f"  source: {corpus_dir} uploaded to {source_uri}")


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so none is returned twice)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("dagster-yaml")
    step.add_argument("template", type=Path)
    step.add_argument("out", type=Path)
    step = steps.add_parser("bucket")
    step.add_argument("endpoint")
    step.add_argument("bucket")
    step = steps.add_parser("seed")
    step.add_argument("endpoint")
    step.add_argument("source_uri")
    step.add_argument("scratch", type=Path)
    step.add_argument("corpus_dir", type=Path, nargs="?")
    step = steps.add_parser("free-ports")
    step.add_argument("count", type=int)
    args = parser.parse_args(argv)
    if args.step == "dagster-yaml":
        dagster_yaml(args.template, args.out)
    elif args.step == "bucket":
        create_bucket(args.endpoint, args.bucket)
    elif args.step == "seed":
        seed(args.endpoint, args.source_uri, args.scratch, args.corpus_dir)
    else:
        print(" ".join(str(p) for p in free_ports(args.count)))


if __name__ == "__main__":
    main()
