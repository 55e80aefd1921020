//! `bidgate demo`: the gateway from the shipped demo config plus three simulated partners,
//! all in this process on loopback, and a curl line that shows a real auction.

pub mod partner;

use partner::Profile;
use std::path::PathBuf;

/// The shipped demo config (`config/demo.toml`); its partner endpoints name the sim ports.
pub const CONFIG: &str = include_str!("../../config/demo.toml");
/// The request the printed curl line posts (`fixtures/requests/demo-audio.json`).
pub const FIXTURE: &str = include_str!("../../fixtures/requests/demo-audio.json");
/// The app's ad request of the second curl line (`fixtures/requests/ads-audio-break.json`).
pub const ADS_FIXTURE: &str = include_str!("../../fixtures/requests/ads-audio-break.json");

/// Three partners that differ the way real ones do: one steady, one picky, one that is
/// sometimes far too slow (its late answers show up as timeouts in `ext.errors`).
pub fn profiles() -> [Profile; 3] {
    [
        Profile {
            name: "dsp-a",
            latency_ms: (10, 40),
            bid_rate: 1.0,
            price_cents: (150, 300),
            slow_rate: 0.0,
            slow_ms: 0,
            adomain: "steady-audio.example",
        },
        Profile {
            name: "dsp-b",
            latency_ms: (30, 80),
            bid_rate: 0.7,
            price_cents: (200, 450),
            slow_rate: 0.0,
            slow_ms: 0,
            adomain: "picky-brand.example",
        },
        Profile {
            name: "dsp-c",
            latency_ms: (40, 90),
            bid_rate: 0.9,
            price_cents: (250, 500),
            slow_rate: 0.3,
            slow_ms: 400,
            adomain: "sometimes-late.example",
        },
    ]
}

pub async fn run() -> std::io::Result<()> {
    let config = crate::config::from_toml_str(CONFIG, crate::config::env_overrides()).map_err(
        |problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            std::io::Error::other(format!("demo config: {}", lines.join("; ")))
        },
    )?;
    let mut config = config;
    config.internal.catalog = Some(fixture_path_in("catalog", "demo.toml", CATALOG)?);
    for (profile, partner) in profiles().into_iter().zip(&config.partners) {
        let url = reqwest::Url::parse(&partner.endpoint).map_err(std::io::Error::other)?;
        let addr = url
            .socket_addrs(|| None)?
            .into_iter()
            .next()
            .ok_or_else(|| std::io::Error::other("demo partner endpoint has no address"))?;
        let (bound, server) = partner::spawn(addr, profile).map_err(|e| {
            std::io::Error::new(e.kind(), format!("simulated partner on {addr}: {e}"))
        })?;
        tracing::info!(partner = %partner.id, %bound, "simulated partner listening");
        tokio::spawn(server);
    }
    let app = crate::build(config)?;
    let fixture = fixture_path("demo-audio.json", FIXTURE)?;
    let ads_fixture = fixture_path("ads-audio-break.json", ADS_FIXTURE)?;
    println!(
        "bidgate demo: gateway on http://{}, 3 simulated partners on loopback",
        app.addr()
    );
    println!("try an OpenRTB auction:\n");
    println!(
        "  curl -s -H 'Content-Type: application/json' --data-binary @{} http://{}/openrtb2/auction\n",
        fixture.display(),
        app.addr()
    );
    println!("or an app's ad request (an audio break of up to 3 spots and a banner):\n");
    println!(
        "  curl -s -H 'Content-Type: application/json' --data-binary @{} http://{}/v1/ads\n",
        ads_fixture.display(),
        app.addr()
    );
    println!(
        "metrics: curl -s http://{}/metrics    stop: Ctrl-C",
        app.addr()
    );
    app.run().await
}

/// The demo's direct-sold catalog (`fixtures/catalog/demo.toml`).
pub const CATALOG: &str = include_str!("../../fixtures/catalog/demo.toml");

fn fixture_path(name: &str, text: &str) -> std::io::Result<PathBuf> {
    fixture_path_in("requests", name, text)
}

/// The fixture in the source tree when run from a checkout, else a copy in a temp file.
fn fixture_path_in(dir: &str, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let in_tree = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
        .join(name);
    if in_tree.exists() {
        return Ok(in_tree);
    }
    let copy = std::env::temp_dir().join(format!("bidgate-{name}"));
    std::fs::write(&copy, text)?;
    Ok(copy)
}
