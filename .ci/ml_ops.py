#!/usr/bin/env python3
"""Runs the deploy state machine of AWS's MLOps sample for Amazon Personalize
(amazon-personalize-samples, `next_steps/operations/ml_ops`) against personalize-local, then
asks each campaign it made for recommendations.

    python3 .ci/ml_ops.py BINARY MOTO_ENDPOINT SAMPLE_DIR

SAMPLE_DIR is a copy of the sample's `next_steps/operations/ml_ops`. What stands in for the
cloud, and nothing else is changed in the sample:
- `personalize*` go to a `personalize-local serve` started here, in the account moto's STS
  names (the handlers build ARNs from it); S3, STS, IAM, SNS and Step Functions to moto;
- SAM: the stack's bucket, topic, roles and state machine are made in moto, uniquely named;
- S3's notification: after the upload of `params.json` the trigger function (`s3lambda`) is
  called with that event; it starts an execution in moto, whose input is read back;
- Lambda: a Task's function is its template resource's handler, imported here with the layer
  (`shared/python`) on `sys.path` and its environment set; input and result go through JSON;
  an exception it raises is the Task's error, named by its class (Lambda's `errorType`);
- Step Functions: an interpreter of the deploy machine's ASL (`DefinitionString`, substituted):
  Task, Pass, Choice, Wait, Parallel (branches in threads), Map (ItemsPath, Iterator), Succeed,
  Fail; Retry, Catch, InputPath, Parameters, ResultSelector, ResultPath, OutputPath (`$.a.b`
  paths). Waits (Retry intervals, Wait) are capped at 0.2 s; MaxAttempts is honoured.
"""
import copy
import importlib.util
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import yaml

REGION = "us-east-1"
MAX_WAIT = 0.2
# How long new resources stay CREATE PENDING / CREATE IN_PROGRESS (serve's --transition-ms).
# The sample's create-solution function, seeing a solution not yet ACTIVE, calls
# describe_solution(solutionVersion=...), which boto3 refuses (the member is solutionArn); at
# 0 a new solution is ACTIVE at once and that path is not taken.
TRANSITION_MS = os.environ.get("ML_OPS_TRANSITION_MS", "200")


class StatesError(Exception):
    def __init__(self, error, cause, state=None, message=None):
        super().__init__(f"{error}: {cause}")
        self.error, self.cause, self.state, self.message = error, cause, state, message or cause


def get_path(data, path):
    if path is None or path == "$":
        return {} if path is None else data
    cur = data
    for part in path[2:].split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise StatesError("States.Runtime", f"the path {path} is not in the input")
        cur = cur[part]
    return cur


def set_path(raw, path, value):
    if path is None or path == "$":
        return raw if path is None else value
    out = copy.deepcopy(raw) if isinstance(raw, dict) else {}
    cur, parts = out, path[2:].split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return out


def resolve(template, data):
    if isinstance(template, dict):
        return {(k[:-2] if k.endswith(".$") else k):
                (get_path(data, v) if k.endswith(".$") else resolve(v, data))
                for k, v in template.items()}
    if isinstance(template, list):
        return [resolve(v, data) for v in template]
    return template


def matches(names, error):
    return error in names or ("States.ALL" in names and error != "States.Runtime")


COMPARE = {"Equals": operator.eq, "LessThan": operator.lt, "GreaterThan": operator.gt,
           "LessThanEquals": operator.le, "GreaterThanEquals": operator.ge}


def choice_rule(rule, data):
    if "And" in rule or "Or" in rule:
        return (all if "And" in rule else any)(choice_rule(r, data)
                                               for r in rule.get("And", rule.get("Or")))
    if "Not" in rule:
        return not choice_rule(rule["Not"], data)
    try:
        value = get_path(data, rule["Variable"])
    except StatesError:
        if "IsPresent" not in rule:
            raise
        return not rule["IsPresent"]
    for key, want in rule.items():
        if key == "IsPresent":
            return want
        op = re.fullmatch(r"(?:String|Numeric|Boolean|Timestamp)(\w+?)(Path)?", key)
        if op and op[1] in COMPARE:
            return COMPARE[op[1]](value, get_path(data, want) if op[2] else want)
    raise StatesError("States.Runtime", f"unsupported Choice rule {rule}")


class Lambdas:
    """The template's functions, by name, run in this process."""

    def __init__(self, root, resources, physical):
        self.root, self.resources, self.physical = root, resources, physical
        self.modules, self.lock = {}, threading.Lock()
        sys.path.insert(0, str(root / "shared" / "python"))

    def value(self, v):  # !Ref X, !GetAtt X.Arn or [X, Arn]: X's physical id or ARN
        ref = v.get("!Ref") or v.get("!GetAtt") if isinstance(v, dict) else None
        return v if ref is None else self.physical[(ref.split(".") if isinstance(ref, str)
                                                    else ref)[0]]

    def handler(self, name):
        props = self.resources[name]["Properties"]
        with self.lock:
            os.environ.update({k: str(self.value(v)) for k, v in
                               props.get("Environment", {}).get("Variables", {}).items()})
            if name not in self.modules:
                module, func = props["Handler"].rsplit(".", 1)
                path = self.root / props["CodeUri"] / f"{module}.py"
                spec = importlib.util.spec_from_file_location(f"fn_{name}", path)
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                self.modules[name] = getattr(mod, func)
        return self.modules[name]

    def invoke(self, name, payload):
        handler = self.handler(name)
        try:
            result = handler(json.loads(json.dumps(payload)), None)
        except Exception as e:  # Lambda reports any exception as the function's error
            kind = type(e).__name__
            raise StatesError(kind, json.dumps({
                "errorMessage": str(e), "errorType": kind, "stackTrace": traceback.format_tb(
                    e.__traceback__)}), message=str(e)) from e
        return json.loads(json.dumps(result, default=str))


class Machine:
    def __init__(self, lambdas):
        self.lambdas, self.caught, self.results = lambdas, [], {}

    def run(self, definition, data, prefix=""):
        name = definition["StartAt"]
        while True:
            state = definition["States"][name]
            print(f"{prefix}{name} ({state['Type']})", flush=True)
            try:
                data, following = self.step(name, state, data, prefix)
            except StatesError as e:
                e.state = e.state or name
                catcher = next((c for c in state.get("Catch", [])
                                if matches(c["ErrorEquals"], e.error)), None)
                if catcher is None:
                    raise
                print(f"{prefix}  caught {e.error} ({e.message!r}) from {e.state}"
                      f" -> {catcher['Next']}", flush=True)
                self.caught.append((prefix + e.state, e, catcher["Next"]))
                data = set_path(data, catcher.get("ResultPath", "$"),
                                {"Error": e.error, "Cause": e.cause})
                following = catcher["Next"]
            if following is None:
                return data
            name = following

    def retrying(self, state, prefix, action):
        tries = {}
        while True:
            try:
                result = action()
                if tries:
                    print(f"{prefix}  after {sum(tries.values())} retries", flush=True)
                return result
            except StatesError as e:
                rules = [i for i, r in enumerate(state.get("Retry", []))
                         if matches(r["ErrorEquals"], e.error)]
                if not rules:
                    raise
                rule, n = state["Retry"][rules[0]], tries.get(rules[0], 0)
                if n >= rule.get("MaxAttempts", 3):  # say what the uncapped intervals allowed
                    allowed = sum(rule.get("IntervalSeconds", 1) * rule.get("BackoffRate", 2.0)
                                  ** k for k in range(n))
                    print(f"{prefix}  {e.error} still after {n} retries (waits capped at "
                          f"{MAX_WAIT} s; the definition's would total {allowed:.3g} s)", flush=True)
                    raise
                tries[rules[0]] = n + 1
                time.sleep(min(rule.get("IntervalSeconds", 1)
                               * rule.get("BackoffRate", 2.0) ** n, MAX_WAIT))

    def step(self, name, state, raw, prefix):
        kind = state["Type"]
        if kind == "Fail":
            raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""), name)
        data = get_path(raw, state.get("InputPath", "$"))
        following = None if state.get("End") or kind == "Succeed" else state.get("Next")
        if kind in ("Succeed", "Wait", "Choice"):
            if kind == "Wait":
                time.sleep(min(state.get("Seconds", 0), MAX_WAIT))
            if kind == "Choice":
                following = next((c["Next"] for c in state["Choices"]
                                  if choice_rule(c, data)), state.get("Default"))
                if following is None:
                    raise StatesError("States.NoChoiceMatched", f"no choice of {name} matched")
            return get_path(data, state.get("OutputPath", "$")), following
        if "Parameters" in state and kind != "Map":
            data = resolve(state["Parameters"], data)
        if kind == "Pass":
            result = state.get("Result", data)
        elif kind == "Task":
            function = state["Resource"].rsplit(":", 1)[-1]
            result = self.retrying(state, prefix,
                                   lambda: self.lambdas.invoke(function, data))
            print(f"{prefix}  -> {json.dumps(result)[:200]}", flush=True)
            self.results[name] = result
        elif kind == "Parallel":
            def branches():
                with ThreadPoolExecutor(len(state["Branches"])) as pool:
                    futures = [pool.submit(self.run, b, data, f"{prefix}{name}[{i}] / ")
                               for i, b in enumerate(state["Branches"])]
                    return [f.result() for f in futures]
            result = self.retrying(state, prefix, branches)
        elif kind == "Map":
            iterator = state.get("Iterator") or state["ItemProcessor"]
            items = get_path(data, state.get("ItemsPath", "$"))
            result = self.retrying(state, prefix, lambda: [
                self.run(iterator, item, f"{prefix}{name}[{i}] / ")
                for i, item in enumerate(items)])
        else:
            raise StatesError("States.Runtime", f"unsupported state type {kind}")
        if "ResultSelector" in state:
            result = resolve(state["ResultSelector"], result)
        out = set_path(raw, state.get("ResultPath", "$"), result)
        return get_path(out, state.get("OutputPath", "$")), following


def load_template(path):
    class CfnLoader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):  # !Ref X -> {"!Ref": "X"}, and so on
        return {"!" + suffix: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
                else loader.construct_sequence(node, deep=True)
                if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node, deep=True)}

    CfnLoader.add_multi_constructor("!", tag)
    return yaml.load(path.read_text(), Loader=CfnLoader)


def start_server(binary, account, data_dir):
    server = subprocess.Popen(
        [binary, "--data-dir", data_dir, "serve", "--port", "0", "--transition-ms", TRANSITION_MS,
         "--account-id", account], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PERSONALIZE_LOCAL_S3_ENDPOINT": os.environ["AWS_ENDPOINT_URL"]})
    for line in server.stdout:
        if "listening on" in line:
            url = re.search(r"listening on (http://\S+)", line)[1]
            threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
            return server, url
    sys.exit("ml_ops: the server did not start")


def make_stack(template, account):
    """What `sam deploy` makes, in moto: returns the physical ids by logical id."""
    suffix = uuid.uuid4().hex[:8]
    bucket = f"mlops-input-{suffix}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    physical = {"InputBucket": bucket, "NotificationTopic": boto3.client("sns").create_topic(
        Name=f"StepsTopic-{suffix}")["TopicArn"],
        "ParameterFile": template["Parameters"]["ParameterFile"]["Default"]}
    for logical in ("PersonalizeRole", "StatesExecutionRole"):  # their trust policies
        trust = template["Resources"][logical]["Properties"]["AssumeRolePolicyDocument"]
        physical[logical] = boto3.client("iam").create_role(
            RoleName=f"{logical}-{suffix}",
            AssumeRolePolicyDocument=json.dumps(trust, default=str))["Role"]["Arn"]
    for logical, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            physical[logical] = f"arn:aws:lambda:{REGION}:{account}:function:{logical}"
    text, subs = template["Resources"]["DeployStateMachine"]["Properties"]["DefinitionString"]["!Sub"]
    definition = re.sub(r"\$\{(\w+)\}",
                        lambda m: physical[subs[m[1]]["!GetAtt"].split(".")[0]], text)
    physical["DeployStateMachine"] = boto3.client("stepfunctions").create_state_machine(
        name=f"DeployStateMachine-{suffix}", definition=definition,
        roleArn=physical["StatesExecutionRole"])["stateMachineArn"]
    return physical, json.loads(definition)


def upload_and_trigger(lambdas, physical, sample):
    """The README's order: the datasets' folders first, then params.json at the root."""
    s3, bucket = boto3.client("s3"), physical["InputBucket"]
    data, key = sample / "example" / "data", physical["ParameterFile"]
    for path, name in [(p, p.relative_to(data).as_posix()) for p in sorted(data.rglob("*.csv"))
                       ] + [(sample / "example" / "params.json", key)]:
        s3.upload_file(str(path), bucket, name)
        print(f"uploaded s3://{bucket}/{name}")
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                          "awsRegion": REGION, "s3": {"bucket": {"name": bucket, "arn":
                          f"arn:aws:s3:::{bucket}"}, "object": {"key": key}}}]}
    started = json.loads(lambdas.invoke("S3Lambda", event))
    print(f"S3Lambda started {started['executionArn']}")
    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=started["executionArn"])
    return json.loads(execution["input"])


def recommend(results, sample):
    """Asks every campaign the machine made, as a client of the deployed endpoint would."""
    personalize, runtime = boto3.client("personalize"), boto3.client("personalize-runtime")
    with open(sample / "example" / "data" / "Interactions" / "interactions.csv") as f:
        user, item = f.readlines()[1].split(",")[:2]
    with open(sample / "example" / "data" / "Items" / "item-meta.csv") as f:
        items = [line.split(",")[0] for line in f.readlines()[1:11]]
    for state, campaign in results.items():
        if not (state.startswith("Create ") and state.endswith(" Campaign")):
            continue
        version = personalize.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"]
        recipe = personalize.describe_solution_version(
            solutionVersionArn=version)["solutionVersion"]["recipeArn"]
        if recipe.endswith("personalized-ranking"):  # a ranking campaign only ranks
            got = runtime.get_personalized_ranking(campaignArn=campaign, userId=user,
                                                   inputList=items)["personalizedRanking"]
            print(f"{campaign}: GetPersonalizedRanking {user} {items} -> {[i['itemId'] for i in got]}")
            continue
        asked = {"itemId": item} if recipe.endswith("sims") else {"userId": user}
        for arn in [None] + results.get("Create Filters", []):
            got = runtime.get_recommendations(campaignArn=campaign, numResults=10, **asked,
                                              **({"filterArn": arn} if arn else {}))
            print(f"{campaign}: GetRecommendations {asked}{' with ' + arn if arn else ''}"
                  f" -> {[i['itemId'] for i in got['itemList']]}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, moto, sample = sys.argv[1], sys.argv[2], Path(sys.argv[3]).resolve()
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                      AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=moto)
    account = boto3.client("sts").get_caller_identity()["Account"]
    root = sample / "personalize-step-functions"
    template = load_template(root / "template.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(binary, account, str(Path(tmp) / "data"))
        try:
            os.environ.update(AWS_ENDPOINT_URL_PERSONALIZE=url,
                              AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME=url,
                              AWS_ENDPOINT_URL_PERSONALIZE_EVENTS=url)
            print(f"personalize-local at {url}, account {account}")
            physical, definition = make_stack(template, account)
            lambdas = Lambdas(root, template["Resources"], physical)
            execution_input = upload_and_trigger(lambdas, physical, sample)
            machine = Machine(lambdas)
            try:
                output = machine.run(definition, execution_input)
            except StatesError as e:
                sys.exit(f"ml_ops: the deploy state machine failed in {e.state}: "
                         f"{e.error}: {e.message}")
            # A KeyError routed to "... Not Available" is a dataset or solution params.json omits.
            errors = [c for c in machine.caught if "Not Available" not in c[2]]
            if errors or "serviceError" in output or "statesError" in output:
                state, err, following = errors[0]
                sys.exit(f"ml_ops: the deploy state machine failed in {state}: {err.error}: "
                         f"{err.message} (caught; its error path {following!r} ran)")
            print("ml_ops: the deploy state machine succeeded")
            recommend(machine.results, sample)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
