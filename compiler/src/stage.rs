//! Logical pipeline stages (northd.c `PIPELINE_STAGE` list, OVN 23.03).

macro_rules! stages {
    ($( $(#[$doc:meta])* $variant:ident = ($pipeline:ident, $table:expr, $name:expr), )*) => {
        /// A stage of a logical switch pipeline; its table number and name are
        /// those of ovn-northd 23.03.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Stage {
            $( $(#[$doc])* $variant, )*
        }

        impl Stage {
            /// Every stage, ingress then egress, in table order.
            pub const ALL: &'static [Stage] = &[$(Stage::$variant,)*];

            /// The stage name (`external_ids:stage-name`).
            pub fn name(self) -> &'static str {
                match self { $(Stage::$variant => $name,)* }
            }

            /// The logical table number.
            pub fn table(self) -> u8 {
                match self { $(Stage::$variant => $table,)* }
            }

            /// The pipeline.
            pub fn pipeline(self) -> Pipeline {
                match self { $(Stage::$variant => Pipeline::$pipeline,)* }
            }
        }
    };
}

/// Ingress or egress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pipeline {
    /// `ingress`.
    Ingress,
    /// `egress`.
    Egress,
}

impl Pipeline {
    /// The SB `pipeline` column value.
    pub fn name(self) -> &'static str {
        match self {
            Pipeline::Ingress => "ingress",
            Pipeline::Egress => "egress",
        }
    }
}

stages! {
    /// `ls_in_check_port_sec`.
    LsInCheckPortSec = (Ingress, 0, "ls_in_check_port_sec"),
    /// `ls_in_apply_port_sec`.
    LsInApplyPortSec = (Ingress, 1, "ls_in_apply_port_sec"),
    /// `ls_in_lookup_fdb`.
    LsInLookupFdb = (Ingress, 2, "ls_in_lookup_fdb"),
    /// `ls_in_put_fdb`.
    LsInPutFdb = (Ingress, 3, "ls_in_put_fdb"),
    /// `ls_in_pre_acl`.
    LsInPreAcl = (Ingress, 4, "ls_in_pre_acl"),
    /// `ls_in_pre_lb`.
    LsInPreLb = (Ingress, 5, "ls_in_pre_lb"),
    /// `ls_in_pre_stateful`.
    LsInPreStateful = (Ingress, 6, "ls_in_pre_stateful"),
    /// `ls_in_acl_hint`.
    LsInAclHint = (Ingress, 7, "ls_in_acl_hint"),
    /// `ls_in_acl`.
    LsInAcl = (Ingress, 8, "ls_in_acl"),
    /// `ls_in_qos_mark`.
    LsInQosMark = (Ingress, 9, "ls_in_qos_mark"),
    /// `ls_in_qos_meter`.
    LsInQosMeter = (Ingress, 10, "ls_in_qos_meter"),
    /// `ls_in_lb_aff_check`.
    LsInLbAffCheck = (Ingress, 11, "ls_in_lb_aff_check"),
    /// `ls_in_lb`.
    LsInLb = (Ingress, 12, "ls_in_lb"),
    /// `ls_in_lb_aff_learn`.
    LsInLbAffLearn = (Ingress, 13, "ls_in_lb_aff_learn"),
    /// `ls_in_pre_hairpin`.
    LsInPreHairpin = (Ingress, 14, "ls_in_pre_hairpin"),
    /// `ls_in_nat_hairpin`.
    LsInNatHairpin = (Ingress, 15, "ls_in_nat_hairpin"),
    /// `ls_in_hairpin`.
    LsInHairpin = (Ingress, 16, "ls_in_hairpin"),
    /// `ls_in_acl_after_lb`.
    LsInAclAfterLb = (Ingress, 17, "ls_in_acl_after_lb"),
    /// `ls_in_stateful`.
    LsInStateful = (Ingress, 18, "ls_in_stateful"),
    /// `ls_in_arp_rsp`.
    LsInArpRsp = (Ingress, 19, "ls_in_arp_rsp"),
    /// `ls_in_dhcp_options`.
    LsInDhcpOptions = (Ingress, 20, "ls_in_dhcp_options"),
    /// `ls_in_dhcp_response`.
    LsInDhcpResponse = (Ingress, 21, "ls_in_dhcp_response"),
    /// `ls_in_dns_lookup`.
    LsInDnsLookup = (Ingress, 22, "ls_in_dns_lookup"),
    /// `ls_in_dns_response`.
    LsInDnsResponse = (Ingress, 23, "ls_in_dns_response"),
    /// `ls_in_external_port`.
    LsInExternalPort = (Ingress, 24, "ls_in_external_port"),
    /// `ls_in_l2_lkup`.
    LsInL2Lkup = (Ingress, 25, "ls_in_l2_lkup"),
    /// `ls_in_l2_unknown`.
    LsInL2Unknown = (Ingress, 26, "ls_in_l2_unknown"),
    /// `ls_out_pre_acl`.
    LsOutPreAcl = (Egress, 0, "ls_out_pre_acl"),
    /// `ls_out_pre_lb`.
    LsOutPreLb = (Egress, 1, "ls_out_pre_lb"),
    /// `ls_out_pre_stateful`.
    LsOutPreStateful = (Egress, 2, "ls_out_pre_stateful"),
    /// `ls_out_acl_hint`.
    LsOutAclHint = (Egress, 3, "ls_out_acl_hint"),
    /// `ls_out_acl`.
    LsOutAcl = (Egress, 4, "ls_out_acl"),
    /// `ls_out_qos_mark`.
    LsOutQosMark = (Egress, 5, "ls_out_qos_mark"),
    /// `ls_out_qos_meter`.
    LsOutQosMeter = (Egress, 6, "ls_out_qos_meter"),
    /// `ls_out_stateful`.
    LsOutStateful = (Egress, 7, "ls_out_stateful"),
    /// `ls_out_check_port_sec`.
    LsOutCheckPortSec = (Egress, 8, "ls_out_check_port_sec"),
    /// `ls_out_apply_port_sec`.
    LsOutApplyPortSec = (Egress, 9, "ls_out_apply_port_sec"),
    /// `lr_in_admission`.
    LrInAdmission = (Ingress, 0, "lr_in_admission"),
    /// `lr_in_lookup_neighbor`.
    LrInLookupNeighbor = (Ingress, 1, "lr_in_lookup_neighbor"),
    /// `lr_in_learn_neighbor`.
    LrInLearnNeighbor = (Ingress, 2, "lr_in_learn_neighbor"),
    /// `lr_in_ip_input`.
    LrInIpInput = (Ingress, 3, "lr_in_ip_input"),
    /// `lr_in_unsnat`.
    LrInUnsnat = (Ingress, 4, "lr_in_unsnat"),
    /// `lr_in_defrag`.
    LrInDefrag = (Ingress, 5, "lr_in_defrag"),
    /// `lr_in_lb_aff_check`.
    LrInLbAffCheck = (Ingress, 6, "lr_in_lb_aff_check"),
    /// `lr_in_dnat`.
    LrInDnat = (Ingress, 7, "lr_in_dnat"),
    /// `lr_in_lb_aff_learn`.
    LrInLbAffLearn = (Ingress, 8, "lr_in_lb_aff_learn"),
    /// `lr_in_ecmp_stateful`.
    LrInEcmpStateful = (Ingress, 9, "lr_in_ecmp_stateful"),
    /// `lr_in_nd_ra_options`.
    LrInNdRaOptions = (Ingress, 10, "lr_in_nd_ra_options"),
    /// `lr_in_nd_ra_response`.
    LrInNdRaResponse = (Ingress, 11, "lr_in_nd_ra_response"),
    /// `lr_in_ip_routing_pre`.
    LrInIpRoutingPre = (Ingress, 12, "lr_in_ip_routing_pre"),
    /// `lr_in_ip_routing`.
    LrInIpRouting = (Ingress, 13, "lr_in_ip_routing"),
    /// `lr_in_ip_routing_ecmp`.
    LrInIpRoutingEcmp = (Ingress, 14, "lr_in_ip_routing_ecmp"),
    /// `lr_in_policy`.
    LrInPolicy = (Ingress, 15, "lr_in_policy"),
    /// `lr_in_policy_ecmp`.
    LrInPolicyEcmp = (Ingress, 16, "lr_in_policy_ecmp"),
    /// `lr_in_arp_resolve`.
    LrInArpResolve = (Ingress, 17, "lr_in_arp_resolve"),
    /// `lr_in_chk_pkt_len`.
    LrInChkPktLen = (Ingress, 18, "lr_in_chk_pkt_len"),
    /// `lr_in_larger_pkts`.
    LrInLargerPkts = (Ingress, 19, "lr_in_larger_pkts"),
    /// `lr_in_gw_redirect`.
    LrInGwRedirect = (Ingress, 20, "lr_in_gw_redirect"),
    /// `lr_in_arp_request`.
    LrInArpRequest = (Ingress, 21, "lr_in_arp_request"),
    /// `lr_out_chk_dnat_local`.
    LrOutChkDnatLocal = (Egress, 0, "lr_out_chk_dnat_local"),
    /// `lr_out_undnat`.
    LrOutUndnat = (Egress, 1, "lr_out_undnat"),
    /// `lr_out_post_undnat`.
    LrOutPostUndnat = (Egress, 2, "lr_out_post_undnat"),
    /// `lr_out_snat`.
    LrOutSnat = (Egress, 3, "lr_out_snat"),
    /// `lr_out_post_snat`.
    LrOutPostSnat = (Egress, 4, "lr_out_post_snat"),
    /// `lr_out_egr_loop`.
    LrOutEgrLoop = (Egress, 5, "lr_out_egr_loop"),
    /// `lr_out_delivery`.
    LrOutDelivery = (Egress, 6, "lr_out_delivery"),
}

impl Stage {
    /// A logical-router stage (`lr_in_*`, `lr_out_*`).
    pub fn is_router(self) -> bool {
        self.name().starts_with("lr_")
    }

    /// The switch stage with this pipeline and table number.
    pub fn switch_stage(pipeline: Pipeline, table: u8) -> Option<Stage> {
        Stage::ALL
            .iter()
            .copied()
            .find(|s| !s.is_router() && s.pipeline() == pipeline && s.table() == table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_has_27_ingress_and_10_egress_tables_numbered_densely() {
        let ingress: Vec<u8> = Stage::ALL
            .iter()
            .filter(|s| !s.is_router() && s.pipeline() == Pipeline::Ingress)
            .map(|s| s.table())
            .collect();
        let egress: Vec<u8> = Stage::ALL
            .iter()
            .filter(|s| !s.is_router() && s.pipeline() == Pipeline::Egress)
            .map(|s| s.table())
            .collect();
        assert_eq!(ingress, (0..27).collect::<Vec<_>>());
        assert_eq!(egress, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn router_has_22_ingress_and_7_egress_tables_numbered_densely() {
        let tables = |p: Pipeline| -> Vec<u8> {
            Stage::ALL
                .iter()
                .filter(|s| s.is_router() && s.pipeline() == p)
                .map(|s| s.table())
                .collect()
        };
        assert_eq!(tables(Pipeline::Ingress), (0..22).collect::<Vec<_>>());
        assert_eq!(tables(Pipeline::Egress), (0..7).collect::<Vec<_>>());
    }
}
