"""After a restore: bring the restored schema up to the installed MLflow, and give the platform's
MLflow accounts the passwords of the secret store in force.

A backup taken by an older MLflow holds an older schema; `mlflow db upgrade` migrates it (a no-op
when it is current). A restored database holds the accounts as they were when the backup was taken; a password rotated
since would lock the platform out of its own tracking server. Runs on the tracking node with the
server stopped, through MLflow's own auth store (the hashing MLflow uses), on the database of
basic_auth.ini. Reads [{"name", "password", "admin"}] on stdin; prints the names it changed as JSON.
"""

import configparser
import json
import sys

from mlflow.cli import cli
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
from werkzeug.security import check_password_hash

config = configparser.ConfigParser()
config.read(sys.argv[1])
uri = config["mlflow"]["database_uri"]
cli.main(["db", "upgrade", uri], standalone_mode=False)
store = SqlAlchemyStore()
store.init_db(uri)
changed = []
for account in json.load(sys.stdin):
    name, password, admin = account["name"], account["password"], bool(account["admin"])
    if not store.has_user(name):
        store.create_user(name, password, admin)
        changed.append(name)
        continue
    user = store.get_user(name)
    if not check_password_hash(user.password_hash, password):
        store.update_user(name, password=password)
        changed.append(name)
    if bool(user.is_admin) != admin:
        store.update_user(name, is_admin=admin)
        if name not in changed:
            changed.append(name)
print(json.dumps(changed))
