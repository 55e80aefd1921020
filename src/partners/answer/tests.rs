use super::*;

/// The fast way and serde_json alone give the same response, or the same error.
fn same(body: &[u8]) {
    let fast = read(body).map_err(|e| e.to_string());
    let plain = read_plain(body).map_err(|e| e.to_string());
    assert_eq!(fast, plain, "{}", String::from_utf8_lossy(body));
    if plain.is_err() {
        assert!(
            reader::read(body).is_none(),
            "the reader took a refused body"
        );
    }
}

/// A partner answer as the loadtest's partners write it, with a few members more.
fn usual() -> String {
    let vast = r#"<VAST version=\"4.2\"><Ad id=\"a-1\"><InLine><AdSystem>a</AdSystem><Impression><![CDATA[https://t.example/i?id=${AUCTION_ID}&p=${AUCTION_PRICE}]]></Impression><Creatives><Creative><Linear><Duration>00:00:30</Duration><TrackingEvents><Tracking event=\"start\"><![CDATA[https://t0.example/start]]></Tracking></TrackingEvents></Linear></Creative></Creatives></InLine></Ad></VAST>"#;
    format!(
        r#"{{"id":"req-1","cur":"USD","seatbid":[{{"seat":"a","bid":[
        {{"id":"a-1","impid":"1","price":1.37,"adomain":["a.example"],"cid":"a-campaign-7","crid":"a-spot-30s","mtype":3,"dur":30,"adm":"{vast}","nurl":"https://n.example/w?p=${{AUCTION_PRICE}}","ext":{{"dsp":{{"k":[1,2.5,null,true]}}}}}},
        {{"id":"a-2","impid":"2","price":2,"adomain":["a.example","b.example"],"crid":"a-display-300x250","mtype":1,"w":300,"h":250,"adm":"<img src=\"https://c.example/x.png\">","zz":"caf\u00e9 é","cat":[]}}
        ]}}],"bidid":"b-9","ext":{{"latency":12}}}}"#
    )
}

#[test]
fn usual_answers_are_read_by_the_reader_as_serde_json_reads_them() {
    let body = usual();
    let fast = reader::read(body.as_bytes()).expect("the reader takes a usual answer");
    assert_eq!(fast, read_plain(body.as_bytes()).unwrap());
    let bids = &fast.seatbid[0].bid;
    assert_eq!(bids[0].price, 1.37);
    assert_eq!(bids[1].price, 2.0);
    assert!(bids[0].adm().unwrap().starts_with("<VAST version=\"4.2\">"));
    assert_eq!(
        bids[1].adm.as_ref().unwrap().get(),
        r#""<img src=\"https://c.example/x.png\">""#
    );
    assert_eq!(bids[1].str_field("zz"), Some("café é"));
    assert_eq!(bids[1].get("w"), Some(&serde_json::Value::from(300)));
    // Whitespace anywhere JSON allows it, and members in any order.
    let spaced = br#" { "seatbid" : [ { "bid" : [ { "price" : 3 , "adm" : "x" , "impid" : "1" , "id" : "b" , "w" : 0 } ] , "seat" : null } ] , "id" : "r" , "cur" : null } 
"#;
    assert!(reader::read(spaced).is_some());
    same(spaced);
}

#[test]
fn unusual_bodies_give_what_serde_json_gives() {
    for body in [
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":7}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":null}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"\u0061dm":"x"}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"x","adm":"y"}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"bad \q escape"}]}]}"#,
        "{\"id\":\"r\",\"seatbid\":[{\"bid\":[{\"id\":\"a\",\"impid\":\"1\",\"price\":1,\"adm\":\"raw \n newline\"}]}]}",
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"unterminated}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"x"}]}]} trailing"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"x"}]}"#,
        r#"[{"seatbid":[{"bid":[{"adm":"x"}]}]}]"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"\ud800"}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm": "0"}]}]}"#,
        r#"{"id":"r","seatbid":{"bid":[{"adm":"x"}]}}"#,
        // Typed members given twice, null, or of the wrong type.
        r#"{"id":"r","id":"s","seatbid":[]}"#,
        r#"{"id":"r","seatbid":[],"seatbid":[]}"#,
        r#"{"id":"r","bidid":null,"bidid":null}"#,
        r#"{"id":"r","seatbid":[{"seat":"a","seat":"b","bid":[]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","id":"b","price":1}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"price":2}]}]}"#,
        r#"{"id":null,"seatbid":[]}"#,
        r#"{"id":7}"#,
        r#"{"seatbid":[]}"#,
        r#"{"id":"r","seatbid":null}"#,
        r#"{"id":"r","seatbid":[{"bid":null}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a"}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"id":7,"price":1}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":"1"}]}]}"#,
        r#"{"id":"r","nbr":"x"}"#,
        r#"{"id":"r","nbr":2,"cur":"EUR","bidid":"b","ext":null}"#,
        r#"{"id":"r","cur":7}"#,
        // Numbers: the reader's own integers against serde_json's.
        r#"{"id":"r","seatbid":[{"bid":[{"price":0,"w":0,"h":999999999999999999}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1234567890123456789,"w":12345678901234567890123}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":01}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"w":01}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":-1.5e2,"w":-3,"h":2e1,"dur":1.0}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1.,"w":1}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1x}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"w":3 4}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"w":tru}]}]}"#,
        // Arrays and objects as members.
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"adomain":["a",7,"b"],"cat":["x\"y"]}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"adomain":["a",]}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"adomain":["a""b"]}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"ext":{"a":[1,{"b":"}"}]},"zz":{}}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"ext":{"a":]}}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"ext":{"a" 1}}]}]}"#,
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"crid":"a","crid":"b","zz":1,"zz":2}]}]}"#,
        r#"{"id":"r","seatbid":[{"x":1,"x":2,"bid":[]}],"y":[],"y":{}}"#,
        // Keys: escaped, non-ASCII, empty; trailing commas; empty containers.
        r#"{"id":"r","seatbid":[{"bid":[{"price":1,"ké":"v","":""}]}]}"#,
        r#"{"i\u0064":"r"}"#,
        r#"{"id":"r",}"#,
        r#"{"id":"r","seatbid":[{"bid":[],}]}"#,
        r#"{"id":"r","seatbid":[{},{"bid":[{}]}]}"#,
        r#"{"id":"r","seatbid":[]}"#,
        r#"{}"#,
        "\u{feff}{\"id\":\"r\"}",
        r#"{"id":"r"}{"#,
        r#"{"id":"r"  ,  "seatbid"  :  [  ]  }   "#,
        r#""id""#,
    ] {
        same(body.as_bytes());
    }
}

#[test]
fn deep_members_are_left_to_serde_json_and_its_recursion_limit() {
    for depth in [10, 63, 64, 65, 120, 123, 124, 125, 126, 127, 128, 200] {
        let ext = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let body = format!(r#"{{"id":"r","seatbid":[{{"bid":[{{"price":1,"ext":{ext}}}]}}]}}"#);
        same(body.as_bytes());
        let top = format!(r#"{{"id":"r","ext":{ext}}}"#);
        same(top.as_bytes());
    }
}

#[test]
fn invalid_utf8_is_refused_as_serde_json_refuses_it() {
    let ok = br#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"xx","crid":"xx","xx":1}]}]}"#;
    for at in ok
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w == b"xx")
        .map(|(i, _)| i)
    {
        let mut body = ok.to_vec();
        body[at] = 0xff;
        assert!(reader::read(&body).is_none());
        same(&body);
        // A valid two-byte sequence is fine in markup, values and keys alike.
        body[at] = 0xc3;
        body[at + 1] = 0xa9;
        same(&body);
        assert!(reader::read(&body).is_some());
    }
}

/// Mutated answers (bytes dropped, changed, repeated, JSON punctuation inserted) must give
/// the same response or error both ways: a cheap, always-run cousin of the fuzz target.
#[test]
fn mutated_answers_agree_with_serde_json() {
    let seeds = [
        usual(),
        r#"{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":0.5,"adm":"<a href=\"u\">\\</a>","w":1,"adomain":["x"]}],"seat":"s"}],"nbr":1}"#.to_string(),
    ];
    let alphabet = b"{}[]\":,\\ 0123456789.-eE\n\tnultrfasxadmpricebidseat\xc3\xa9\xff";
    let mut rng = fastrand::Rng::with_seed(12);
    let mut taken = 0;
    for round in 0..6000 {
        let mut body = seeds[round % seeds.len()].as_bytes().to_vec();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..body.len());
            match rng.u8(..4) {
                0 => {
                    body.remove(at);
                }
                1 => body[at] = alphabet[rng.usize(..alphabet.len())],
                2 => body.insert(at, alphabet[rng.usize(..alphabet.len())]),
                _ => {
                    let end = (at + rng.usize(1..40)).min(body.len());
                    let span = body[at..end].to_vec();
                    body.splice(at..at, span);
                }
            }
        }
        same(&body);
        taken += usize::from(reader::read(&body).is_some());
    }
    // Mutations that keep an answer valid are common: the reader must take many of them.
    assert!(taken > 500, "the reader took only {taken} of 6000");
}
