//! Writes a generated NB topology as a transact params array on stdout.
//!
//! `golden-gen k8s --nodes 100 --pods 100 --services 1000 --backends 3 --policies 500 > nb.json`

use clap::{Parser, Subcommand};
use ovnflow_golden::gen::{k8s, K8sShape};

#[derive(Parser)]
#[command(about = "Generate NB topologies (transact JSON) for the corpus and benchmarks")]
struct Cli {
    #[command(subcommand)]
    shape: Shape,
}

#[derive(Subcommand)]
enum Shape {
    /// Kubernetes shape: node switches with pods, a cluster router, services, network policies.
    K8s {
        /// Nodes.
        #[arg(long, default_value_t = 2)]
        nodes: u32,
        /// Pods per node.
        #[arg(long, default_value_t = 3)]
        pods: u32,
        /// Services (load balancers).
        #[arg(long, default_value_t = 2)]
        services: u32,
        /// Backends per service.
        #[arg(long, default_value_t = 2)]
        backends: u32,
        /// Network policies.
        #[arg(long, default_value_t = 2)]
        policies: u32,
    },
}

fn main() {
    let Cli {
        shape:
            Shape::K8s {
                nodes,
                pods,
                services,
                backends,
                policies,
            },
    } = Cli::parse();
    let v = k8s(&K8sShape {
        nodes,
        pods_per_node: pods,
        services,
        backends,
        policies,
    });
    println!("{v}");
}
