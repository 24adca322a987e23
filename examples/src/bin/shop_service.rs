//! Runs one service of the shop (docs/guide-service-to-service.md) on its own, against a
//! Warden set up as `services_demo` does it (examples/README.md lists the commands):
//!
//! ```sh
//! shop_service payments --listen 127.0.0.1:4003
//! CLIENT_ID=… CLIENT_SECRET=… shop_service orders --listen 127.0.0.1:4002 --payments-url http://127.0.0.1:4003
//! CLIENT_ID=… CLIENT_SECRET=… shop_service gateway --listen 127.0.0.1:4001 --orders-url http://127.0.0.1:4002
//! CLIENT_ID=… CLIENT_SECRET=… shop_service settle --payments-url http://127.0.0.1:4003
//! ```
//!
//! `CLIENT_ID` and `CLIENT_SECRET` are the service's own client (orders' for `orders` and
//! `settle`, the gateway's for `gateway`). `services_demo` runs the same code in one process.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use warden_client::{Client, Credentials};
use warden_examples::shop;

/// One service of the shop example.
#[derive(Debug, Parser)]
#[command(name = "shop_service")]
struct Args {
    /// Warden's issuer URL, exactly as it advertises it.
    #[arg(
        long,
        global = true,
        env = "WARDEN_ISSUER",
        default_value = "http://127.0.0.1:8080"
    )]
    issuer: String,
    #[command(subcommand)]
    service: Service,
}

#[derive(Debug, Subcommand)]
enum Service {
    /// The payments API: POST /charges with scope payments:charge.
    Payments {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4003")]
        listen: String,
    },
    /// The orders API: POST /orders with scope orders:create; calls payments on behalf of the
    /// caller (token exchange).
    Orders {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4002")]
        listen: String,
        /// Where the payments service listens.
        #[arg(long, default_value = "http://127.0.0.1:4003")]
        payments_url: String,
    },
    /// The gateway API: POST /checkout with scope orders:create; calls orders on behalf of the
    /// user (token exchange).
    Gateway {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4001")]
        listen: String,
        /// Where the orders service listens.
        #[arg(long, default_value = "http://127.0.0.1:4002")]
        orders_url: String,
    },
    /// Orders' settlement job: one charge at payments as the orders client itself (client
    /// credentials); prints what payments saw.
    Settle {
        /// Where the payments service listens.
        #[arg(long, default_value = "http://127.0.0.1:4003")]
        payments_url: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shop_service: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> warden_examples::Result<()> {
    let issuer = args.issuer.as_str();
    let (router, listen) = match args.service {
        Service::Payments { listen } => (shop::payments(issuer).await?, listen),
        Service::Orders {
            listen,
            payments_url,
        } => {
            let warden = own_client(issuer).await?;
            (shop::orders(issuer, warden, &payments_url).await?, listen)
        }
        Service::Gateway { listen, orders_url } => {
            let warden = own_client(issuer).await?;
            (shop::gateway(issuer, warden, &orders_url).await?, listen)
        }
        Service::Settle { payments_url } => {
            let warden = own_client(issuer).await?;
            let answer = shop::settle_batch(&warden, &payments_url).await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            return Ok(());
        }
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

/// The service's own Warden client, from `CLIENT_ID` and `CLIENT_SECRET`.
async fn own_client(issuer: &str) -> warden_examples::Result<Client> {
    let id = std::env::var("CLIENT_ID").map_err(|_| "set CLIENT_ID to this service's client id")?;
    let secret = std::env::var("CLIENT_SECRET")
        .map_err(|_| "set CLIENT_SECRET to this service's client secret")?;
    Ok(
        Client::builder(issuer, Credentials::client_secret_basic(id, secret))
            .build()
            .await?,
    )
}
