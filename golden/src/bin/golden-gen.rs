//! Writes a generated NB topology as a transact params array on stdout.
//!
//! `golden-gen k8s --nodes 100 --pods 100 --services 1000 --backends 3 --policies 500 > nb.json`
//! `golden-gen k8s --gateways --nodes 10 --pods 10` (with ovn-kubernetes' per-node gateway routers)
//! `golden-gen openstack --routers 2 --networks-per-router 2 --vms-per-network 2 --fips 3`

use clap::{Parser, Subcommand};
use ovnflow_golden::gen::{k8s, openstack, ovn_k8s, K8sShape, OpenstackShape};

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
        /// Per-node gateway routers, join and external switches (ovn-kubernetes' shared gateway).
        #[arg(long)]
        gateways: bool,
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
    /// OpenStack shape: tenant routers with distributed gateway ports on a
    /// provider network, tenant networks, SNAT and floating IPs.
    Openstack {
        /// Tenant routers.
        #[arg(long, default_value_t = 2)]
        routers: u32,
        /// Tenant networks per router.
        #[arg(long, default_value_t = 2)]
        networks_per_router: u32,
        /// VMs per network.
        #[arg(long, default_value_t = 2)]
        vms_per_network: u32,
        /// Floating IPs in all (given to VMs router by router).
        #[arg(long, default_value_t = 3)]
        fips: u32,
    },
}

fn main() {
    let v = match Cli::parse().shape {
        Shape::K8s {
            gateways,
            nodes,
            pods,
            services,
            backends,
            policies,
        } => {
            let shape = K8sShape {
                nodes,
                pods_per_node: pods,
                services,
                backends,
                policies,
            };
            if gateways {
                ovn_k8s(&shape)
            } else {
                k8s(&shape)
            }
        }
        Shape::Openstack {
            routers,
            networks_per_router,
            vms_per_network,
            fips,
        } => openstack(&OpenstackShape {
            routers,
            networks_per_router,
            vms_per_network,
            fips,
        }),
    };
    println!("{v}");
}
