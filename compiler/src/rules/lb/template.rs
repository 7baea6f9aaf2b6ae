//! Template load balancers (`Load_Balancer.options:template=true`): VIPs and
//! backends written with chassis template variables (`^NAME`), which
//! ovn-controller expands per chassis from the SB `Chassis_Template_Var`
//! rows (copied from the NB by [`template_var_row`], `sync_template_vars()`
//! in northd.c).
//!
//! Northd does not expand anything: it splits each `vips` entry the way
//! `ovn_lb_vip_init_template()` (lib/lb.c, 23.03.1) does and writes the
//! variables into the flows as text. The family of every VIP comes from
//! `options:address-family` (`ipv4` unless set to anything else); the VIP's
//! address itself is never parsed, which northd shows wherever it tests the
//! address rather than the family ([`Vip::v4_mapped`] is false).

use ovsdb::Uuid;

use super::vip::{parse_backends, Backend, Vip};
use crate::ids;
use crate::nb::{ChassisTemplateVar, LoadBalancer};
use crate::sb;

/// `options:address-family` of a template load balancer: IPv6 unless it is
/// `ipv4` (the default).
pub fn address_family_v6(lb: &LoadBalancer) -> bool {
    lb.options
        .iter()
        .find(|(k, _)| k == "address-family")
        .is_some_and(|(_, v)| v != "ipv4")
}

/// `options:template=true`.
pub fn is_template(lb: &LoadBalancer) -> bool {
    crate::nb::smap_get_bool(&lb.options, "template", false)
}

/// `strtok_r(s, ":")` into at most two fields (`A` or `A:B`, empty fields
/// skipped); `None` for none or more than two.
fn split_pair(s: &str) -> Option<(&str, Option<&str>)> {
    let mut atoms = s.split(':').filter(|a| !a.is_empty());
    let first = atoms.next()?;
    let second = atoms.next();
    match atoms.next() {
        Some(_) => None,
        None => Some((first, second)),
    }
}

/// `ovn_lb_backends_init_template()`: backends `IP[:PORT]` of variables or
/// literals, split at `:` without parsing; `Err` when one has no field or
/// more than two (an IPv6 literal, for instance).
fn template_backends(value: &str) -> Result<Vec<Backend>, String> {
    let mut backends = Vec::new();
    let mut bad = Vec::new();
    for token in value.split(',').filter(|t| !t.is_empty()) {
        match split_pair(token) {
            Some((ip, port)) => backends.push(Backend {
                ip: ip.to_string(),
                port: None,
                port_str: port.map(str::to_string),
                monitored: false,
            }),
            None => bad.push(format!(
                "{token}: should be a template of the form: \
                 '^backendip_variable1[:^port_variable1|:port]'"
            )),
        }
    }
    if bad.is_empty() {
        Ok(backends)
    } else {
        Err(format!("{}.", bad.join(", ")))
    }
}

/// `ovn_lb_vip_init_template()`: the VIP `key` (`^VIP[:^PORT|:PORT]`) with
/// its backends `value`, of the load balancer's family; template backends
/// first, else explicit ones (`IP:PORT` checked against the family), else
/// the VIP fails with both errors.
pub fn parse_vip(key: &str, value: &str, ipv6: bool) -> Result<Vip, String> {
    let Some((ip, port)) = split_pair(key) else {
        return Err(format!(
            "{key}: should be a template of the form: '^vip_variable[:^port_variable|:port]'."
        ));
    };
    let backends = match template_backends(value) {
        Ok(b) => b,
        Err(template) => parse_backends(value, ipv6, port.is_some(), ip).map_err(|explicit| {
            format!("invalid backend: template ({template}) OR explicit ({explicit})")
        })?,
    };
    Ok(Vip {
        key: key.to_string(),
        ip: ip.to_string(),
        ipv6,
        v4_mapped: false,
        port: port.map(str::to_string),
        backends,
        backend_ips: value.to_string(),
        health_check: None,
    })
}

/// The SB `Load_Balancer:vips` of `lb` (`ovn_northd_lb_get_vips()`): the NB
/// `vips`, except for IPv6 template load balancers with a VIP that parses,
/// whose VIPs northd rewrites the way ovn-controller reads them (a `^VIP`
/// in brackets, with or without port; the others as written) and keeps only
/// those that parse.
pub fn sb_vips(lb: &LoadBalancer, parsed: &[Vip]) -> Vec<(String, String)> {
    if !is_template(lb) || !address_family_v6(lb) || parsed.is_empty() {
        return lb.vips.clone();
    }
    let mut out: Vec<(String, String)> = parsed
        .iter()
        .map(|v| {
            let port = v.port.as_ref().map(|p| format!(":{p}")).unwrap_or_default();
            let key = if v.ip.starts_with('^') {
                format!("[{}]{port}", v.ip)
            } else {
                format!("{}{port}", v.ip)
            };
            (key, v.backend_ips.clone())
        })
        .collect();
    out.sort();
    out
}

/// The SB `Chassis_Template_Var` row of an NB one (`sync_template_vars()`:
/// `chassis` and `variables`, one row per chassis).
pub fn template_var_row(tv: &ChassisTemplateVar) -> sb::ChassisTemplateVar {
    sb::ChassisTemplateVar {
        uuid: row_uuid(&tv.chassis),
        chassis: tv.chassis.clone(),
        variables: tv.variables.clone(),
    }
}

/// The SB row UUID of the template variables of `chassis`.
fn row_uuid(chassis: &str) -> Uuid {
    ids::derive("Chassis_Template_Var", &[chassis.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_vips_split_at_colons() {
        let v = parse_vip("^VIP:^PORT", "^B1:^P1,^B2:8080", false).unwrap();
        assert_eq!((v.ip.as_str(), v.port.as_deref()), ("^VIP", Some("^PORT")));
        assert!(!v.v4_mapped && !v.ipv6);
        let ports: Vec<_> = v.backends.iter().map(|b| b.port_str.as_deref()).collect();
        assert_eq!(ports, [Some("^P1"), Some("8080")]);
        assert!(v.backends.iter().all(|b| b.port.is_none()));
        assert!(parse_vip("^A:^B:^C", "", false).is_err());
        assert!(parse_vip(":", "", false).is_err());
        let v = parse_vip("^V", ",,", false).unwrap();
        assert!(v.backends.is_empty());
    }

    #[test]
    fn ipv6_backends_fall_back_to_explicit() {
        let v = parse_vip("^V:80", "[fd00::1]:8080", true).unwrap();
        assert_eq!(v.backends[0].port, Some(8080));
        assert_eq!(v.backends[0].ip, "fd00::1");
        // Wrong family for the explicit parse, too many fields for a template.
        assert!(parse_vip("^V:80", "[fd00::1]:8080", false).is_err());
    }
}
