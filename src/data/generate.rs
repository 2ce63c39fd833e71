//! Deterministic synthetic beverage sales, for the bundled sample and for benchmarks.
//!
//! The generator uses its own SplitMix64 stream rather than `rand`'s `StdRng`, whose output
//! is explicitly allowed to change between releases: a seed must give the same file forever,
//! so tests can compare against the committed sample byte for byte.
//!
//! Structure the analyses can find: summer seasonality (shifted six months in the southern
//! hemisphere) with a December bump, brand-level growth trends (energy drinks and kombucha
//! grow, juice shrinks), regional price levels, a clear high-margin winner (Red Bull) and a
//! loss-making loser (Sunny Delight).

use std::io::{self, Write};

/// Small, fast, portable PRNG (SplitMix64). Good statistical quality for simulation.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize
    }

    /// Standard normal via Box-Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Index drawn with probability proportional to `weights`.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.next_f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// The header every generated file starts with, in order.
pub const COLUMNS: [&str; 16] = [
    "sale_date",
    "year",
    "month",
    "quarter",
    "region",
    "country",
    "store_id",
    "brand",
    "category",
    "units_sold",
    "price_per_unit",
    "total_revenue",
    "cost_per_unit",
    "total_cost",
    "profit",
    "profit_margin",
];

struct Brand {
    name: &'static str,
    category: &'static str,
    /// Relative number of transactions.
    popularity: f64,
    /// Base shelf price in USD.
    price: f64,
    /// Unit cost as a fraction of price.
    cost_ratio: f64,
    /// Mean units in one transaction line.
    units: f64,
    /// Compound annual growth of volume.
    growth: f64,
}

const BRANDS: [Brand; 12] = [
    Brand {
        name: "Coca-Cola",
        category: "Soft Drinks",
        popularity: 16.0,
        price: 1.85,
        cost_ratio: 0.58,
        units: 120.0,
        growth: 0.02,
    },
    Brand {
        name: "Pepsi",
        category: "Soft Drinks",
        popularity: 13.0,
        price: 1.75,
        cost_ratio: 0.62,
        units: 110.0,
        growth: 0.00,
    },
    Brand {
        name: "Red Bull",
        category: "Energy Drinks",
        popularity: 9.0,
        price: 3.20,
        cost_ratio: 0.38,
        units: 70.0,
        growth: 0.12,
    },
    Brand {
        name: "Monster",
        category: "Energy Drinks",
        popularity: 8.0,
        price: 2.90,
        cost_ratio: 0.47,
        units: 75.0,
        growth: 0.09,
    },
    Brand {
        name: "Evian",
        category: "Water",
        popularity: 8.0,
        price: 1.40,
        cost_ratio: 0.55,
        units: 130.0,
        growth: 0.03,
    },
    Brand {
        name: "Dasani",
        category: "Water",
        popularity: 7.0,
        price: 1.10,
        cost_ratio: 0.66,
        units: 140.0,
        growth: -0.02,
    },
    Brand {
        name: "Tropicana",
        category: "Juice",
        popularity: 7.0,
        price: 2.60,
        cost_ratio: 0.70,
        units: 80.0,
        growth: -0.04,
    },
    Brand {
        name: "Sunny Delight",
        category: "Juice",
        popularity: 4.0,
        price: 2.10,
        cost_ratio: 1.04,
        units: 75.0,
        growth: -0.08,
    },
    Brand {
        name: "Gatorade",
        category: "Sports Drinks",
        popularity: 8.0,
        price: 2.20,
        cost_ratio: 0.57,
        units: 95.0,
        growth: 0.04,
    },
    Brand {
        name: "Lipton",
        category: "Tea",
        popularity: 6.0,
        price: 1.90,
        cost_ratio: 0.60,
        units: 85.0,
        growth: 0.01,
    },
    Brand {
        name: "Starbucks Cold Brew",
        category: "Coffee",
        popularity: 6.0,
        price: 3.80,
        cost_ratio: 0.52,
        units: 55.0,
        growth: 0.07,
    },
    Brand {
        name: "Brew Dr Kombucha",
        category: "Functional",
        popularity: 3.0,
        price: 4.10,
        cost_ratio: 0.50,
        units: 40.0,
        growth: 0.30,
    },
];

struct Country {
    name: &'static str,
    code: &'static str,
    region: &'static str,
    weight: f64,
    /// Price level relative to the USA.
    price_level: f64,
    southern: bool,
    stores: usize,
}

const COUNTRIES: [Country; 14] = [
    Country {
        name: "United States",
        code: "US",
        region: "North America",
        weight: 22.0,
        price_level: 1.00,
        southern: false,
        stores: 8,
    },
    Country {
        name: "Canada",
        code: "CA",
        region: "North America",
        weight: 7.0,
        price_level: 1.05,
        southern: false,
        stores: 4,
    },
    Country {
        name: "Mexico",
        code: "MX",
        region: "North America",
        weight: 6.0,
        price_level: 0.70,
        southern: false,
        stores: 4,
    },
    Country {
        name: "Germany",
        code: "DE",
        region: "Europe",
        weight: 8.0,
        price_level: 1.10,
        southern: false,
        stores: 5,
    },
    Country {
        name: "United Kingdom",
        code: "UK",
        region: "Europe",
        weight: 8.0,
        price_level: 1.15,
        southern: false,
        stores: 5,
    },
    Country {
        name: "France",
        code: "FR",
        region: "Europe",
        weight: 6.0,
        price_level: 1.12,
        southern: false,
        stores: 4,
    },
    Country {
        name: "Spain",
        code: "ES",
        region: "Europe",
        weight: 5.0,
        price_level: 0.95,
        southern: false,
        stores: 3,
    },
    Country {
        name: "Japan",
        code: "JP",
        region: "Asia Pacific",
        weight: 7.0,
        price_level: 1.08,
        southern: false,
        stores: 4,
    },
    Country {
        name: "China",
        code: "CN",
        region: "Asia Pacific",
        weight: 7.0,
        price_level: 0.65,
        southern: false,
        stores: 5,
    },
    Country {
        name: "India",
        code: "IN",
        region: "Asia Pacific",
        weight: 5.0,
        price_level: 0.45,
        southern: false,
        stores: 4,
    },
    Country {
        name: "Australia",
        code: "AU",
        region: "Asia Pacific",
        weight: 5.0,
        price_level: 1.20,
        southern: true,
        stores: 3,
    },
    Country {
        name: "Brazil",
        code: "BR",
        region: "Latin America",
        weight: 6.0,
        price_level: 0.75,
        southern: true,
        stores: 4,
    },
    Country {
        name: "Argentina",
        code: "AR",
        region: "Latin America",
        weight: 3.0,
        price_level: 0.70,
        southern: true,
        stores: 3,
    },
    Country {
        name: "Colombia",
        code: "CO",
        region: "Latin America",
        weight: 3.0,
        price_level: 0.60,
        southern: false,
        stores: 2,
    },
];

/// Northern-hemisphere monthly volume index (January first): summer peak, December bump.
const SEASON: [f64; 12] = [0.80, 0.78, 0.90, 0.98, 1.10, 1.28, 1.36, 1.30, 1.08, 0.94, 0.86, 1.12];

const FIRST_YEAR: i32 = 2022;
const YEARS: usize = 3;
const DAYS_IN_MONTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

fn days_in_month(year: i32, month: usize) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if month == 1 && leap { 29 } else { DAYS_IN_MONTH[month] }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Writes `rows` sales lines (plus a header) drawn from `seed`, sorted by date.
pub fn generate<W: Write>(rows: usize, seed: u64, out: W) -> io::Result<()> {
    let mut rng = SplitMix64::new(seed);
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    writeln!(out, "{}", COLUMNS.join(","))?;

    let brand_weights: Vec<f64> = BRANDS.iter().map(|b| b.popularity).collect();
    let country_weights: Vec<f64> = COUNTRIES.iter().map(|c| c.weight).collect();
    let months = YEARS * 12;
    // Spread rows evenly over months so the file comes out sorted by date without
    // holding every row in memory (1M+ rows for benchmarks).
    let mut line = String::with_capacity(160);
    for m in 0..months {
        let start = rows * m / months;
        let end = rows * (m + 1) / months;
        let year = FIRST_YEAR + (m / 12) as i32;
        let month = m % 12;
        let mut days: Vec<u32> = (start..end)
            .map(|_| 1 + rng.below(days_in_month(year, month) as usize) as u32)
            .collect();
        days.sort_unstable();
        for day in days {
            let brand = &BRANDS[rng.weighted(&brand_weights)];
            let country = &COUNTRIES[rng.weighted(&country_weights)];
            let store = 1 + rng.below(country.stores);
            let season_month = if country.southern { (month + 6) % 12 } else { month };
            let years_in = m as f64 / 12.0;
            let volume =
                brand.units * SEASON[season_month] * (1.0 + brand.growth).powf(years_in) * (0.35 * rng.normal()).exp();
            let units = volume.round().max(1.0) as u64;
            let price = round2(brand.price * country.price_level * (1.0 + 0.04 * rng.normal()));
            let price = price.max(0.05);
            let cost = round2(price * brand.cost_ratio * (1.0 + 0.03 * rng.normal()));
            let revenue = round2(units as f64 * price);
            let total_cost = round2(units as f64 * cost);
            let profit = round2(revenue - total_cost);
            let margin = round2(profit / revenue * 100.0);
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(
                line,
                "{year:04}-{mm:02}-{day:02},{year},{mm},{q},{region},{country},{code}-{store:03},{brand},{category},{units},{price:.2},{revenue:.2},{cost:.2},{total_cost:.2},{profit:.2},{margin:.2}",
                mm = month + 1,
                q = month / 3 + 1,
                region = country.region,
                country = country.name,
                code = country.code,
                brand = brand.name,
                category = brand.category,
            );
            writeln!(out, "{line}")?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_string(rows: usize, seed: u64) -> String {
        let mut buf = Vec::new();
        generate(rows, seed, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(gen_string(500, 7), gen_string(500, 7));
        assert_ne!(gen_string(500, 7), gen_string(500, 8));
    }

    #[test]
    fn writes_header_and_requested_rows_sorted_by_date() {
        let text = gen_string(1000, 1);
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        let dates: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
        assert_eq!(dates.len(), 1000);
        assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn rows_are_internally_consistent() {
        for line in gen_string(300, 3).lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), COLUMNS.len(), "{line}");
            let units: f64 = f[9].parse().unwrap();
            let price: f64 = f[10].parse().unwrap();
            let revenue: f64 = f[11].parse().unwrap();
            let profit: f64 = f[14].parse().unwrap();
            let cost: f64 = f[13].parse().unwrap();
            assert!((units * price - revenue).abs() < 0.01, "{line}");
            assert!((revenue - cost - profit).abs() < 0.011, "{line}");
        }
    }
}
