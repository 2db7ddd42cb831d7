#!/usr/bin/python3
"""Independent AMQP client for the sharebox tests (Debian's python3-pika only).

Consume mode (default): takes up to --count messages from --queue with basic.get, acking each,
and prints one compact JSON object per message, in delivery order:

  {"body": <body parsed as JSON, or the raw text>, "properties": {"message_id", "type",
   "content_type", "delivery_mode", "timestamp", "headers"}, "routing_key": ..., "exchange": ...,
   "redelivered": ...}

It declares nothing. Until --timeout it keeps retrying when the broker is unreachable or the
queue does not exist yet (the publisher may declare it later), so tests can start consuming
before the code under test has connected. Exit 0 when --count messages were received, 2 on
timeout (after printing what it got).

--drain: takes the messages ready in each --queue (repeatable in this mode) when it gets to it,
acking them, and prints them as consume mode does, each record with a "queue" member naming its
queue. Meant for after the publisher has had every message confirmed: a queue that does not
exist counts as empty. Exit 2 if messages stop coming for --timeout seconds.

--depth: prints the number of ready messages in --queue (passive declare); exit 3 if the queue
does not exist.

--publish BODY (repeatable, test setup only): declares --queue as a durable queue and publishes
each BODY to it as a persistent message through the default exchange, waiting for publisher
confirms, so the messages are on disk when this returns.

Other failures exit 1; bad arguments exit 64.
"""

import argparse
import json
import logging
import sys
import time
import uuid

import pika
import pika.exceptions

EXIT_TIMEOUT = 2
EXIT_NO_QUEUE = 3
EXIT_USAGE = 64
NOT_FOUND = 404


class ArgumentParser(argparse.ArgumentParser):
    # argparse exits 2 on bad arguments, which would read as "timed out".
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def connection_parameters(url, timeout):
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = max(1.0, min(timeout, 5.0))
    params.blocked_connection_timeout = max(1.0, timeout)
    return params


def message_record(method, props, body):
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return {
        "body": parsed,
        "properties": {
            "message_id": props.message_id,
            "type": props.type,
            "content_type": props.content_type,
            "delivery_mode": props.delivery_mode,
            "timestamp": props.timestamp,
            "headers": props.headers,
        },
        "routing_key": method.routing_key,
        "exchange": method.exchange,
        "redelivered": method.redelivered,
    }


def emit(record):
    sys.stdout.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def consume(args):
    deadline = time.monotonic() + args.timeout
    received = 0
    last_problem = None
    connection = None
    channel = None
    while received < args.count and time.monotonic() < deadline:
        try:
            if connection is None or connection.is_closed:
                channel = None
                connection = pika.BlockingConnection(
                    connection_parameters(args.url, deadline - time.monotonic()))
            if channel is None or channel.is_closed:
                channel = connection.channel()
            method, props, body = channel.basic_get(args.queue, auto_ack=False)
            if method is None:
                time.sleep(0.05)
                continue
            channel.basic_ack(method.delivery_tag)
            emit(message_record(method, props, body))
            received += 1
        except pika.exceptions.ChannelClosedByBroker as e:
            # 404 until the publisher declares the queue; the broker closed only the channel.
            last_problem = f"channel closed by broker: {e.reply_code} {e.reply_text}"
            if e.reply_code != NOT_FOUND:
                break
            time.sleep(0.2)
        except pika.exceptions.AMQPError as e:
            # Broker down or restarting: keep trying until the deadline.
            last_problem = f"{type(e).__name__}: {e}"
            connection = None
            time.sleep(0.2)
    if connection is not None and connection.is_open:
        connection.close()
    if received == args.count:
        return 0
    print(f"consume.py: got {received} of {args.count} messages from {args.queue!r} within "
          f"{args.timeout:g}s" + (f" (last problem: {last_problem})" if last_problem else ""),
          file=sys.stderr)
    return EXIT_TIMEOUT


def drain(args):
    connection = pika.BlockingConnection(connection_parameters(args.url, args.timeout))
    try:
        for queue in args.queue:
            channel = connection.channel()
            try:
                ready = channel.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker as e:
                if e.reply_code != NOT_FOUND:
                    raise
                continue
            # Pushed in batches and acked in batches: one round trip per message (basic.get)
            # takes minutes for the tens of thousands a long test leaves.
            channel.basic_qos(prefetch_count=1000)
            received = 0
            last_tag = None
            if ready > 0:
                for method, props, body in channel.consume(queue, inactivity_timeout=args.timeout):
                    if method is None:
                        print(f"consume.py: {queue!r} had {ready} messages, {received} came",
                              file=sys.stderr)
                        return EXIT_TIMEOUT
                    record = message_record(method, props, body)
                    record["queue"] = queue
                    emit(record)
                    received += 1
                    last_tag = method.delivery_tag
                    if received % 500 == 0:
                        channel.basic_ack(last_tag, multiple=True)
                    if received == ready:
                        break
            if last_tag is not None:
                channel.basic_ack(last_tag, multiple=True)
            channel.cancel()
            channel.close()
    finally:
        if connection.is_open:
            connection.close()
    return 0


def depth(args):
    connection = pika.BlockingConnection(connection_parameters(args.url, args.timeout))
    try:
        result = connection.channel().queue_declare(args.queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as e:
        if e.reply_code == NOT_FOUND:
            print(f"consume.py: queue {args.queue!r} does not exist", file=sys.stderr)
            return EXIT_NO_QUEUE
        raise
    finally:
        if connection.is_open:
            connection.close()
    print(result.method.message_count)
    return 0


def publish(args):
    connection = pika.BlockingConnection(connection_parameters(args.url, args.timeout))
    try:
        channel = connection.channel()
        channel.queue_declare(args.queue, durable=True)
        channel.confirm_delivery()
        for body in args.publish:
            channel.basic_publish(
                exchange="",
                routing_key=args.queue,
                body=body.encode("utf-8"),
                properties=pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=2,  # persistent (pika 1.2 has no DeliveryMode enum)
                    message_id=str(uuid.uuid4()),
                    type="test.message",
                    timestamp=int(time.time()),
                ),
                mandatory=True,
            )
    finally:
        if connection.is_open:
            connection.close()
    return 0


def main():
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="amqp://user:pass@host:port/vhost")
    parser.add_argument("--queue", required=True, action="append",
                        help="the queue (the last one given, except with --drain)")
    parser.add_argument("--count", type=int, default=1, help="messages to consume")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--depth", action="store_true", help="print the ready message count")
    mode.add_argument("--drain", action="store_true",
                      help="take every ready message of every --queue")
    mode.add_argument("--publish", action="append", metavar="BODY",
                      help="publish BODY persistently (repeatable)")
    args = parser.parse_args()
    if args.count < 0 or args.timeout < 0:
        parser.error("--count and --timeout must not be negative")

    # pika logs every failed connection attempt; the retries here are expected.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    if not args.drain:
        args.queue = args.queue[-1]
    try:
        if args.drain:
            return drain(args)
        if args.depth:
            return depth(args)
        if args.publish:
            return publish(args)
        return consume(args)
    except pika.exceptions.AMQPError as e:
        print(f"consume.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
