//! The deployment files in `deploy/`, validated offline: the Kubernetes manifests against
//! the Kubernetes schemas (`kubernetes-validate` from PyPI, which bundles them), rendered by
//! `kubectl kustomize` where kubectl is installed; their config through `check-config` with
//! the Secret's keys, and served by the real binary on the probes' paths; the compose file
//! and the Dockerfile for what the docs promise of them.
//!
//! Needs `python3` with `kubernetes-validate` (and its PyYAML): `.ci/run` installs it;
//! elsewhere `python3 -m pip install kubernetes-validate`. Without it these tests fail with
//! that hint: a missing validator is never a silent pass.

use crate::helpers::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};

const INSTALL_HINT: &str = "tests/api/deploy.rs needs python3 with kubernetes-validate (and its \
     PyYAML): `python3 -m pip install kubernetes-validate` (.ci/run does this)";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `python3` with `kubernetes_validate` and `yaml` importable, or a panic with the hint.
fn python() -> Command {
    let ok = Command::new("python3")
        .args(["-c", "import kubernetes_validate, yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{INSTALL_HINT}");
    Command::new("python3")
}

/// Every document of a YAML stream, as JSON values (PyYAML's safe loader).
fn yaml_docs(text: &str) -> Vec<Value> {
    let script = "import sys, json, yaml\n\
                  docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]\n\
                  json.dump(docs, sys.stdout)";
    let out = run_with_stdin(python().args(["-c", script]), text);
    serde_json::from_slice(&out).expect("PyYAML's JSON")
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What `kubectl apply -k deploy/k8s` would apply: kubectl's own rendering where kubectl is
/// installed; elsewhere the `resources` of kustomization.yaml plus the generated ConfigMap
/// (without its hash suffix), which is all the kustomization does besides labels and images.
fn manifests() -> Vec<Value> {
    let dir = root().join("deploy/k8s");
    if let Ok(out) = Command::new("kubectl").arg("kustomize").arg(&dir).output() {
        assert!(
            out.status.success(),
            "kubectl kustomize deploy/k8s: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return yaml_docs(&String::from_utf8(out.stdout).unwrap());
    }
    let kustomization = &yaml_docs(&read("deploy/k8s/kustomization.yaml"))[0];
    let mut docs = Vec::new();
    for file in kustomization["resources"].as_array().expect("resources") {
        docs.extend(yaml_docs(&read(&format!(
            "deploy/k8s/{}",
            file.as_str().unwrap()
        ))));
    }
    for generator in kustomization["configMapGenerator"].as_array().unwrap() {
        let mut data = serde_json::Map::new();
        for file in generator["files"].as_array().unwrap() {
            let file = file.as_str().unwrap();
            data.insert(file.into(), read(&format!("deploy/k8s/{file}")).into());
        }
        docs.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": generator["name"]}, "data": data}));
    }
    docs
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in deploy/k8s"))
}

/// The config file the ConfigMap carries, and its parsed TOML.
fn configmap_config(docs: &[Value]) -> (String, toml::Table) {
    let text = find(docs, "ConfigMap")["data"]["bidgate.toml"]
        .as_str()
        .expect("the ConfigMap holds bidgate.toml")
        .to_string();
    let table = toml::from_str(&text).expect("TOML");
    (text, table)
}

/// The Secret's variables (`stringData`), as the container's environment gets them.
fn secret_env(docs: &[Value]) -> Vec<(String, String)> {
    let data = find(docs, "Secret")["stringData"].as_object().unwrap();
    data.iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn container(docs: &[Value]) -> &Value {
    &find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn int(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{v} is not a whole number"))
}

#[test]
fn k8s_manifests_pass_the_kubernetes_schemas() {
    let docs = manifests();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for kind in [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    // JSON is YAML: one document per resource, checked strictly (unknown fields fail).
    let stream: Vec<String> = docs.iter().map(Value::to_string).collect();
    let file = std::env::temp_dir().join(format!("bidgate-k8s-{}.yaml", std::process::id()));
    std::fs::write(&file, stream.join("\n---\n")).unwrap();
    let out = python()
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .arg(&file)
        .output()
        .expect("run kubernetes-validate");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "kubernetes-validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn k8s_config_passes_check_config_with_the_secrets_keys() {
    let docs = manifests();
    let (text, table) = configmap_config(&docs);
    let file = ConfigFile::new("k8s-check", &text);
    let env = secret_env(&docs);
    let run = |env: &[(String, String)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bidgate"));
        cmd.arg("check-config").arg(&file.0);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("BIDGATE_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v))).output().unwrap()
    };
    let out = run(&env);
    assert!(
        out.status.success(),
        "check-config with the Secret's keys: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every key the config reads from the environment is in the Secret.
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for needed in ["BIDGATE_ADMIN__TOKEN", "BIDGATE_EVENTS__SECRETS"] {
        assert!(names.contains(&needed), "the Secret lacks {needed}");
    }
    for client in table["clients"].as_array().into_iter().flatten() {
        let key_env = client["key_env"].as_str().unwrap();
        assert!(names.contains(&key_env), "the Secret lacks {key_env}");
    }
    // And check-config does notice a missing one: without the Secret it refuses.
    assert!(!run(&[]).status.success(), "the config needs no Secret?");
}

#[tokio::test]
async fn k8s_probes_are_routes_of_the_configured_binary() {
    let docs = manifests();
    let (text, table) = configmap_config(&docs);
    let c = container(&docs);
    // The probes' port is the container port bidgate listens on.
    let listen_port: u16 = table["server"]["listen"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ports = c["ports"].as_array().unwrap();
    let port_of = |name: &Value| -> u64 {
        let p = ports
            .iter()
            .find(|p| &p["name"] == name)
            .expect("named port");
        int(&p["containerPort"])
    };
    let mut paths = Vec::new();
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(
            port_of(&get["port"]),
            u64::from(listen_port),
            "{probe}'s port"
        );
        paths.push(path);
    }

    // The real binary with the ConfigMap's config and the Secret's keys answers them
    // (listening on loopback ports of its own instead of 8080/9901).
    let file = ConfigFile::new("k8s-serve", &text);
    let events = std::env::temp_dir().join(format!("bidgate-k8s-events-{}", std::process::id()));
    let mut env = secret_env(&docs);
    env.extend([
        ("BIDGATE_SERVER__LISTEN".into(), "127.0.0.1:0".into()),
        ("BIDGATE_ADMIN__LISTEN".into(), "127.0.0.1:0".into()),
        (
            "BIDGATE_EVENT_LOG__DIR".into(),
            events.display().to_string(),
        ),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (mut child, app) = serve_binary_env(&file, &env);
    assert_eq!(app.get("/healthz").await.status(), 200);
    // Ready once the (unreachable, example) partners' warm-up gave up.
    eventually("/readyz answers 200", || async {
        (app.get("/readyz").await.status() == 200).then_some(())
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&events);
}

#[test]
fn k8s_termination_covers_prestop_drain_and_shutdown() {
    let docs = manifests();
    let (_, table) = configmap_config(&docs);
    let server = &table["server"];
    let drain_ms = server["drain_delay_ms"].as_integer().unwrap() as u64;
    let shutdown_s = server["shutdown_timeout_s"].as_integer().unwrap_or(5) as u64;
    assert!(
        drain_ms > 0,
        "a drain delay, so that load balancers catch up"
    );
    let pre_stop_s = int(&container(&docs)["lifecycle"]["preStop"]["sleep"]["seconds"]);
    assert!(
        pre_stop_s * 1000 >= drain_ms,
        "preStop sleeps {pre_stop_s} s, less than server.drain_delay_ms = {drain_ms}"
    );
    let grace = int(
        &find(&docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
    );
    let needed = pre_stop_s + drain_ms.div_ceil(1000) + shutdown_s;
    assert!(
        grace > needed,
        "terminationGracePeriodSeconds = {grace}, not more than preStop + drain + shutdown = {needed}"
    );
}

#[test]
fn k8s_objects_refer_to_each_other() {
    let docs = manifests();
    let deployment = find(&docs, "Deployment");
    let pod = &deployment["spec"]["template"];
    let labels = pod["metadata"]["labels"].as_object().unwrap();
    let selects_pods = |selector: &Value, what: &str| {
        let selector = selector.as_object().expect("selector");
        assert!(!selector.is_empty(), "{what} selects every pod");
        for (k, v) in selector {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{what} selects {k}={v}, not on the pods"
            );
        }
    };
    selects_pods(&find(&docs, "Service")["spec"]["selector"], "the Service");
    selects_pods(
        &find(&docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        "the PDB",
    );
    let hpa = &find(&docs, "HorizontalPodAutoscaler")["spec"];
    assert_eq!(
        hpa["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    assert_eq!(hpa["metrics"][0]["resource"]["name"], "cpu");
    // The Service's target ports are the container's named ports.
    let c = container(&docs);
    for port in find(&docs, "Service")["spec"]["ports"].as_array().unwrap() {
        let target = &port["targetPort"];
        assert!(
            c["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| &p["name"] == target),
            "Service targets {target}, not a container port"
        );
    }
    // Mounted where the Dockerfile's command reads it, from the generated ConfigMap.
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    let config = volumes.iter().find(|v| v["name"] == "config").unwrap();
    let cm_name = find(&docs, "ConfigMap")["metadata"]["name"].clone();
    assert_eq!(config["configMap"]["name"], cm_name);
    assert_eq!(
        find(&docs, "Secret")["metadata"]["name"],
        c["envFrom"][0]["secretRef"]["name"]
    );
    // Non-root, and resources the HPA's utilisation is measured against.
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(c["resources"]["requests"]["cpu"].is_string());
}

#[test]
fn compose_runs_three_replicas_behind_a_load_balancer() {
    let compose = &yaml_docs(&read("deploy/compose.yaml"))[0];
    let services = compose["services"].as_object().expect("services");
    let bidgate = &services["bidgate"];
    assert_eq!(bidgate["deploy"]["replicas"], 3);
    for needed in ["lb", "redis", "kafka"] {
        assert!(services.contains_key(needed), "no {needed} service");
    }
    // The replicas run the Kubernetes config, with the same keys as the Secret.
    let mounts: Vec<&str> = bidgate["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(mounts.contains(&"./k8s/bidgate.toml:/etc/bidgate/bidgate.toml:ro"));
    let env_file = read(&format!("deploy/{}", bidgate["env_file"].as_str().unwrap()));
    let env_names: Vec<&str> = env_file
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap())
        .collect();
    let mut secret: Vec<String> = secret_env(&manifests())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    secret.sort();
    let mut env_names: Vec<String> = env_names.into_iter().map(String::from).collect();
    env_names.sort();
    assert_eq!(
        env_names, secret,
        "compose.env and secret.yaml name the same keys"
    );
    // The load balancer's config exists and sends traffic to the replicas.
    let lb_mount = services["lb"]["volumes"][0].as_str().unwrap();
    let nginx = read(&format!("deploy/{}", lb_mount.split(':').next().unwrap()));
    assert!(nginx.contains("server bidgate:8080"), "{nginx}");
}

#[test]
fn dockerfile_is_multi_stage_and_runs_as_non_root() {
    let dockerfile = read("Dockerfile");
    let stages: Vec<&str> = dockerfile.split("\nFROM ").skip(1).collect();
    assert!(stages.len() >= 2, "a build stage and a runtime stage");
    let runtime = stages.last().unwrap();
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric uid");
    assert_ne!(uid, 0, "runs as root");
    assert!(dockerfile.contains("cargo build --release --locked"));
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target/"), "{ignore}");
}
