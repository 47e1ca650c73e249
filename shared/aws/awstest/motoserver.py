# Starts moto_server (the pinned moto in the project venv) with one fix for tests that race: moto serves
# requests on threads, and its DynamoDB conditional writes and transactions (check, write, roll back by
# restoring a copy of the table) and Secrets Manager's CreateSecret (check, then create) are not atomic
# across threads, unlike AWS and LocalStack. Requests to those two services are served one at a time.
# SQS's ReceiveMessage checks a message's visibility and then leases it, also not atomically, so two
# concurrent receivers can both get one message; receives are serialized too, except while a long poll
# waits for messages (the lock is released for the wait).
import functools
import sys
import threading

from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import main
from moto.sqs.models import Queue, SQSBackend


def serialized(cls, lock):
    action = cls.__dict__.get("call_action", BaseResponse.call_action)

    @functools.wraps(action)
    def call_action(self):
        with lock:
            return action(self)

    cls.call_action = call_action


def serialized_receive(lock):
    receive = SQSBackend.receive_message
    wait = Queue.wait_for_messages

    @functools.wraps(receive)
    def receive_message(self, *args, **kwargs):
        with lock:
            return receive(self, *args, **kwargs)

    @functools.wraps(wait)
    def wait_for_messages(self, timeout):
        # Only called from receive_message, which holds the lock.
        lock.release()
        try:
            wait(self, timeout)
        finally:
            lock.acquire()

    SQSBackend.receive_message = receive_message
    Queue.wait_for_messages = wait_for_messages


serialized(DynamoHandler, threading.Lock())
serialized(SecretsManagerResponse, threading.Lock())
serialized_receive(threading.Lock())
main(sys.argv[1:])
