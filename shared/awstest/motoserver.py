# Starts moto_server (the pinned moto in the project venv) with one fix for tests that race: moto serves
# requests on threads, and its DynamoDB conditional writes and transactions (check, write, roll back by
# restoring a copy of the table) and Secrets Manager's CreateSecret (check, then create) are not atomic
# across threads, unlike AWS and LocalStack. Requests to those two services are served one at a time;
# SQS, whose ReceiveMessage long-polls, is not serialized.
import functools
import sys
import threading

from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import main


def serialized(cls, lock):
    action = cls.__dict__.get("call_action", BaseResponse.call_action)

    @functools.wraps(action)
    def call_action(self):
        with lock:
            return action(self)

    cls.call_action = call_action


serialized(DynamoHandler, threading.Lock())
serialized(SecretsManagerResponse, threading.Lock())
main(sys.argv[1:])
