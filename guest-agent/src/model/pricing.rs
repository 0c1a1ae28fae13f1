//! List prices, to report the cost of a session the way Claude Code does.

use workroom_protocol::anthropic::Usage;

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Price {
    input: f64,
    output: f64,
}

/// Price of a model by family; unknown and local models cost nothing.
fn price(model: &str) -> Option<Price> {
    let m = model.to_ascii_lowercase();
    let p = |input, output| Some(Price { input, output });
    if m.contains("opus-4-5") || m.contains("opus-4.5") || m.contains("opus-4-6") {
        p(5.0, 25.0)
    } else if m.contains("opus") {
        p(15.0, 75.0)
    } else if m.contains("sonnet") {
        p(3.0, 15.0)
    } else if m.contains("haiku-4") || m.contains("haiku-3-5") {
        p(1.0, 5.0)
    } else if m.contains("haiku") {
        p(0.25, 1.25)
    } else {
        None
    }
}

/// Cost of `usage` on `model`: cache writes at 1.25x input, cache reads at 0.1x.
pub fn cost_usd(model: &str, usage: &Usage) -> f64 {
    let Some(p) = price(model) else {
        return 0.0;
    };
    let per = |tokens: u64, rate: f64| tokens as f64 * rate / 1_000_000.0;
    per(usage.input_tokens, p.input)
        + per(usage.cache_creation_input_tokens, p.input * 1.25)
        + per(usage.cache_read_input_tokens, p.input * 0.1)
        + per(usage.output_tokens, p.output)
}

/// The context window we assume for a model (tokens).
pub fn context_window(model: &str) -> u64 {
    if let Some(n) = std::env::var("WORKROOM_CONTEXT_WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if model.contains("[1m]") {
        1_000_000
    } else {
        200_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sonnet_matches_claude_codes_figure() {
        let usage = Usage {
            input_tokens: 50,
            output_tokens: 40,
            ..Usage::default()
        };
        assert!((cost_usd("claude-sonnet-4-5", &usage) - 0.00075).abs() < 1e-12);
        assert_eq!(cost_usd("qwen3", &usage), 0.0);
    }
}
