//! A generated, realistic mix of Segment events (deterministic: the same seed gives the
//! same corpus): pages, product views, adds to cart, checkouts, orders with 1 to 5
//! products, identify calls and some events no mapping handles.

use std::fmt::Write;

/// xorshift64*: small, fast, deterministic; quality is irrelevant here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const PRODUCTS: &[(&str, &str, &str)] = &[
    ("kettle-01", "Stovetop Kettle", "34.99"),
    ("mug-02", "Enamel Mug", "4.35"),
    ("press-03", "French Press", "27.50"),
    ("beans-04", "Whole Beans 1kg", "19.90"),
    ("filter-05", "Paper Filters", "0.10"),
    ("grinder-06", "Burr Grinder", "129.99"),
];
const COUNTRIES: &[&str] = &[
    "United States",
    "US",
    "usa",
    "United Kingdom",
    "Deutschland",
    "FR",
    "Japan",
    "CAN",
];
const CURRENCIES: &[&str] = &["USD", "usd", "EUR", "GBP", "JPY"];

/// One event as a JSON line (no trailing newline).
pub fn event(rng_seed: u64, i: u64) -> String {
    let mut rng = Rng(rng_seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let anon = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rng.next() as u32,
        rng.below(65536),
        rng.below(4096),
        rng.below(4096),
        rng.next() >> 16
    );
    let ts = format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        15 + rng.below(6),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000)
    );
    let country = rng.pick(COUNTRIES);
    let currency = rng.pick(CURRENCIES);
    let context = format!(
        r#"{{"ip":"203.0.113.{}","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15","library":{{"name":"analytics.js","version":"4.1.0"}},"locale":"en-US","page":{{"path":"/products/{}","referrer":"https://chatgpt.com/","title":"Shop","url":"https://shop.example/products/{}?oppref=oppref_{:x}&utm_source=chatgpt"}},"providers":{{"openAI":{{"oppref":"oppref_{:x}"}}}},"traits":{{"email":"  User{}@Example.com ","address":{{"country":"{}","city":"Portland","postalCode":"97205"}}}}}}"#,
        rng.below(255),
        i,
        i,
        rng.next() >> 20,
        rng.next() >> 20,
        rng.below(100_000),
        country
    );
    let product = |rng: &mut Rng| {
        let (id, name, price) = PRODUCTS[rng.below(PRODUCTS.len() as u64) as usize];
        format!(
            r#"{{"product_id":"{id}","sku":"SKU-{id}","name":"{name}","price":{price},"quantity":{},"category":"Kitchen","brand":"Acme"}}"#,
            1 + rng.below(3)
        )
    };
    let common = format!(
        r#""messageId":"msg-{i:012}","anonymousId":"{anon}","timestamp":"{ts}","sentAt":"{ts}","receivedAt":"{ts}","context":{context}"#
    );
    match rng.below(100) {
        0..=19 => format!(
            r#"{{"type":"page","name":"Product",{common},"properties":{{"title":"Stovetop Kettle","path":"/products/kettle","url":"https://shop.example/products/kettle"}}}}"#
        ),
        20..=44 => {
            let p = product(&mut rng);
            let inner = &p[1..p.len() - 1];
            format!(
                r#"{{"type":"track","event":"Product Viewed",{common},"properties":{{{inner},"currency":"{currency}"}}}}"#
            )
        }
        45..=64 => {
            let p = product(&mut rng);
            let inner = &p[1..p.len() - 1];
            format!(
                r#"{{"type":"track","event":"Product Added",{common},"properties":{{{inner},"cart_id":"cart-{i}"}}}}"#
            )
        }
        // Checkouts (10 in 25) and orders (15 in 25) share the product list.
        65..=89 => {
            let n = 1 + rng.below(5);
            let mut products = String::new();
            for k in 0..n {
                if k > 0 {
                    products.push(',');
                }
                products.push_str(&product(&mut rng));
            }
            let event = if rng.below(25) < 10 {
                "Checkout Started"
            } else {
                "Order Completed"
            };
            let mut props = String::new();
            let _ = write!(
                props,
                r#""order_id":"ord-{i}","currency":"{currency}","revenue":99.5,"shipping":4.99,"tax":1.25,"products":[{products}]"#
            );
            format!(r#"{{"type":"track","event":"{event}",{common},"properties":{{{props}}}}}"#)
        }
        90..=94 => format!(
            r#"{{"type":"identify",{common},"traits":{{"email":"user{i}@example.com","plan":"pro"}}}}"#
        ),
        _ => format!(
            r#"{{"type":"track","event":"Newsletter Opened",{common},"properties":{{"campaign":"fall"}}}}"#
        ),
    }
}

/// `n` events. (Used by the bench; the corpus example writes events one by one.)
#[allow(dead_code)]
pub fn corpus(n: usize) -> Vec<String> {
    (0..n as u64).map(|i| event(0x5EED, i)).collect()
}

/// Writes `n` events to `path`, one a line; the bytes written. (Used by the benches that
/// run whole processes on a file.)
#[allow(dead_code)]
pub fn write(path: &std::path::Path, n: usize) -> usize {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("corpus file"));
    let mut bytes = 0;
    for i in 0..n as u64 {
        let line = event(0x5EED, i);
        bytes += line.len() + 1;
        writeln!(out, "{line}").expect("write corpus");
    }
    out.flush().expect("write corpus");
    bytes
}
