use super::*;

fn gateway(toml: &str) -> Gateway {
    Gateway::new(crate::config::from_toml_str(toml, Vec::new()).unwrap()).unwrap()
}

#[test]
fn in_flight_slots_are_counted_and_given_back() {
    let gw = gateway("[server]\nmax_in_flight = 2\nmax_worker_lag_ms = 0\n");
    let a = gw.admit().unwrap();
    let b = gw.admit().unwrap();
    assert_eq!(gw.admit().err(), Some(Shed::InFlight(2)));
    drop(a);
    let c = gw.admit().expect("a slot was given back");
    assert!(
        gw.admit().is_err(),
        "a refused attempt does not leak a slot"
    );
    drop((b, c));
    assert!(gw.admit().is_ok());
}

#[test]
fn a_lagging_worker_sheds_until_it_catches_up() {
    let gw = gateway("[server]\nmax_worker_lag_ms = 20\n");
    limits::set_worker_lag_for_test(Duration::from_millis(35));
    assert!(matches!(gw.lag_check(), Err(Shed::WorkerLag(_))));
    limits::set_worker_lag_for_test(Duration::from_millis(3));
    assert!(gw.lag_check().is_ok());
}

/// The carry-over rules, one config change at a time (`State::carry_over`).
mod carry_over {
    use super::*;

    const BASE: &str = "[[partners]]\nid = \"a\"\nendpoint = \"http://127.0.0.1:9/bid\"\n\
                        timeout_ms = 100\nqps_limit = 50\n\n\
                        [[partners]]\nid = \"b\"\nendpoint = \"http://127.0.0.1:9/other\"\n\
                        timeout_ms = 100\n";

    fn config(toml: &str) -> Config {
        crate::config::from_toml_str(toml, Vec::new()).unwrap()
    }

    /// The state for `BASE`, and the state a reload to `next` carries over from it.
    fn reload(next: &str) -> (State, State) {
        let before = State::new(&config(BASE)).unwrap();
        let after = before.carry_over(&config(next)).unwrap();
        (before, after)
    }

    fn pool(s: &State, id: &str) -> Arc<crate::config::HttpClientConfig> {
        s.partners[id].pool.as_ref().unwrap().settings.clone()
    }

    #[test]
    fn an_unchanged_partner_keeps_everything() {
        let (before, after) = reload(&BASE.replace("timeout_ms = 100", "timeout_ms = 90"));
        for id in ["a", "b"] {
            let (old, new) = (&before.partners[id], &after.partners[id]);
            assert!(Arc::ptr_eq(&old.breaker, &new.breaker), "{id}: breaker");
            assert!(Arc::ptr_eq(&old.stats, &new.stats), "{id}: stats");
            assert!(
                Arc::ptr_eq(&pool(&before, id), &pool(&after, id)),
                "{id}: pool"
            );
        }
        let (old, new) = (&before.partners["a"], &after.partners["a"]);
        assert!(Arc::ptr_eq(
            old.limiter.as_ref().unwrap(),
            new.limiter.as_ref().unwrap()
        ));
        assert!(Arc::ptr_eq(&before.in_flight, &after.in_flight));
        assert!(Arc::ptr_eq(&before.clients, &after.clients));
        assert!(Arc::ptr_eq(&before.events.dedup, &after.events.dedup));
        assert!(Arc::ptr_eq(&before.events.notifier, &after.events.notifier));
        assert!(Arc::ptr_eq(&before.file_rates, &after.file_rates));
    }

    #[test]
    fn a_changed_breaker_starts_closed_and_the_stats_stay() {
        let (before, after) = reload(&format!(
            "{BASE}\n[circuit_breaker]\nfailure_threshold = 9\n"
        ));
        let (old, new) = (&before.partners["a"], &after.partners["a"]);
        assert!(!Arc::ptr_eq(&old.breaker, &new.breaker));
        assert_eq!(new.breaker.config().failure_threshold, 9);
        assert!(Arc::ptr_eq(&old.stats, &new.stats));
    }

    #[test]
    fn a_changed_qps_limit_gets_a_new_limiter() {
        let (before, after) = reload(&BASE.replace("qps_limit = 50", "qps_limit = 60"));
        let (old, new) = (&before.partners["a"], &after.partners["a"]);
        assert!(!Arc::ptr_eq(
            old.limiter.as_ref().unwrap(),
            new.limiter.as_ref().unwrap()
        ));
        assert_eq!(new.qps_limit, Some(60));
        assert!(Arc::ptr_eq(&old.breaker, &new.breaker));
    }

    #[test]
    fn the_pool_is_kept_for_the_same_origin_and_renewed_otherwise() {
        let (before, after) = reload(
            &BASE
                .replace("9/bid", "9/v2/bid")
                .replace("9/other", "10/other"),
        );
        assert!(
            Arc::ptr_eq(&pool(&before, "a"), &pool(&after, "a")),
            "same origin, new path"
        );
        assert!(
            !Arc::ptr_eq(&pool(&before, "b"), &pool(&after, "b")),
            "new port"
        );
        let (before, after) = reload(&format!("{BASE}\n[http_client]\nconnect_timeout_ms = 77\n"));
        assert!(
            !Arc::ptr_eq(&pool(&before, "a"), &pool(&after, "a")),
            "new settings"
        );
    }

    #[test]
    fn a_removed_partner_leaves_and_comes_back_afresh() {
        let (before, after) = reload(&BASE.replace("id = \"b\"", "id = \"b\"\nenabled = false"));
        assert!(!after.partners.contains_key("b"));
        let back = after.carry_over(&config(BASE)).unwrap();
        assert!(!Arc::ptr_eq(
            &before.partners["b"].stats,
            &back.partners["b"].stats
        ));
    }

    #[test]
    fn the_plan_holds_the_states_arcs() {
        let state = State::new(&config(BASE)).unwrap();
        let gw = Gateway::with_state(config(BASE), state).unwrap();
        let a = &gw.partners[0];
        let kept = &gw.state().partners["a"];
        assert!(Arc::ptr_eq(&a.breaker, &kept.breaker));
        assert!(Arc::ptr_eq(&a.stats, &kept.stats));
        let crate::partners::Demand::Http(http) = &a.demand else {
            panic!("an HTTP partner")
        };
        assert!(Arc::ptr_eq(&http.http, &pool(gw.state(), "a")));
    }

    #[test]
    fn direct_demands_counters_stay_while_a_catalog_is_configured() {
        let with = format!("{BASE}\n[internal]\ncatalog = \"fixtures/catalog/demo.toml\"\n");
        let before = State::new(&config(&with)).unwrap();
        let after = before.carry_over(&config(&with)).unwrap();
        let store = |s: &State| s.direct_store.clone().unwrap();
        assert!(Arc::ptr_eq(&store(&before), &store(&after)));
        assert!(Arc::ptr_eq(
            &before.partners[crate::direct::PARTNER_ID].stats,
            &after.partners[crate::direct::PARTNER_ID].stats
        ));
        let without = after.carry_over(&config(BASE)).unwrap();
        assert!(without.direct_store.is_none());
    }
}
