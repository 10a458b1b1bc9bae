// mimalloc instead of glibc's malloc: measured side by side on the load benchmark's data
// (3 interleaved rounds, wrk -c64), a page of 50 orders went from 975–1,001 to
// 1,099–1,169 req/s and `me` from 3,902–3,958 to 4,316–4,422 req/s; an idle WebSocket
// costs the same under both (README, "Benchmark").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ils_api::cli::run()
}
