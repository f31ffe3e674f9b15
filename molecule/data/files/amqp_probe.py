"""Test-only probe of the molecule data scenario (RabbitMQ). Password in AMQP_PASSWORD; prints one JSON object.

  publish HOST PORT USER VHOST CA QUEUE BODY   over AMQPS, verifying the certificate for HOST, declare the
                                               durable QUEUE and publish BODY as a persistent message
  consume HOST PORT USER VHOST CA QUEUE        over AMQPS, take (and ack) every message waiting in QUEUE
  login PORT USER VHOST                        a plain AMQP login on 127.0.0.1:PORT; reports refusal
"""
import json
import os
import ssl
import sys

import pika


def params(host, port, user, vhost, ca):
    context = ssl.create_default_context(cafile=ca)
    return pika.ConnectionParameters(host="127.0.0.1", port=int(port), virtual_host=vhost,
                                     credentials=pika.PlainCredentials(user, os.environ["AMQP_PASSWORD"]),
                                     ssl_options=pika.SSLOptions(context, server_hostname=host),
                                     connection_attempts=1, socket_timeout=5, blocked_connection_timeout=5)


def main(command, args):
    if command == "login":
        port, user, vhost = args[:3]
        try:
            conn = pika.BlockingConnection(pika.ConnectionParameters(
                host="127.0.0.1", port=int(port), virtual_host=vhost, connection_attempts=1, socket_timeout=5,
                credentials=pika.PlainCredentials(user, os.environ["AMQP_PASSWORD"])))
        except pika.exceptions.AMQPError as exc:
            return {"ok": False, "error": type(exc).__name__ + ": " + str(exc)}
        conn.close()
        return {"ok": True}
    host, port, user, vhost, ca, queue = args[:6]
    conn = pika.BlockingConnection(params(host, port, user, vhost, ca))
    tls = conn._impl._transport._sock.version()  # the TLS version the broker agreed
    channel = conn.channel()
    channel.queue_declare(queue=queue, durable=True)
    if command == "publish":
        channel.confirm_delivery()
        channel.basic_publish(exchange="", routing_key=queue, body=args[6].encode(),
                              properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent))
        conn.close()
        return {"ok": True, "tls_version": tls}
    bodies = []
    while True:
        method, _props, body = channel.basic_get(queue=queue, auto_ack=False)
        if method is None:
            break
        bodies.append(body.decode())
        channel.basic_ack(method.delivery_tag)
    conn.close()
    return {"ok": True, "tls_version": tls, "messages": bodies}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))
