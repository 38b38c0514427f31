# Everyday recipes. `just` is optional: each recipe is one plain command you can copy.
set dotenv-load := false

[private]
default:
    @just --list

# Run the portal on SQLite at http://127.0.0.1:8080
run:
    cargo run -- serve

# Run a CHT simulator with a small Kenya-shaped demo hierarchy at http://127.0.0.1:5988
sim:
    cargo run -p cht-sim -- --listen 127.0.0.1:5988 --seed demo

# The whole suite on SQLite and PostgreSQL (what CI runs)
test:
    tests/run

# Only the integration tests, on PostgreSQL
test-pg:
    PORTAL_TEST_DATABASE=postgres cargo test -p cht-portal --test it

# Only the integration tests, on SQLite
test-sqlite:
    PORTAL_TEST_DATABASE=sqlite cargo test -p cht-portal --test it

# Formatting and lints, as CI checks them
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Apply database migrations (DATABASE_URL picks PostgreSQL)
migrate:
    cargo run -- migrate

# Create a platform administrator; prints a one-time password
admin email:
    cargo run -- admin create --email {{email}}

# Benchmarks (figures go in docs/performance.md)
bench:
    cargo bench -p cht-sim

# Everything CI does
ci:
    .ci/run
