//! A phone's main file as the admin page previews it: rendered by the one
//! render path ([`super::ops::render`], the provisioner the phones get
//! their files from) and then every secret the file can carry replaced by
//! a mask, found by value, so no vendor's key names need knowing here.

use serde_json::json;

use super::ops::{self, Answer, OpError, RenderRequest, SitePasswords};
use crate::domain::mac::Mac;
use crate::provision::Provisioner;

/// What a masked secret reads as.
pub const MASK: &str = "********";
/// Shorter values are not masked by value: a 3-digit PIN would also hide
/// every `100` in the file. (PINs are at least 4 digits in practice.)
const MIN_MASKED: usize = 4;

/// `GET /api/v1/phones/{mac}/preview`: `{"files": [{"name", "content"}]}`
/// with the SIP passwords, voicemail PIN, the phone's web passwords and
/// its provisioning password masked. Rendering the secure main file issues
/// the phone's web passwords if it had none yet, as its first fetch would.
pub fn phone_preview(
    provisioner: &Provisioner,
    https_url: Option<&str>,
    sites: &SitePasswords,
    mac: &str,
) -> Result<Answer, OpError> {
    let parsed = match Mac::parse(mac) {
        Ok(m) => m,
        Err(e) => return Ok(Answer::fail(2, 400, e.to_string())),
    };
    let req = RenderRequest {
        mac: parsed.plain(),
        ..Default::default()
    };
    let rendered = ops::render(provisioner, https_url, &req)?;
    if rendered.exit_code != 0 {
        return Ok(rendered);
    }
    let Some((user, vendor)) = provisioner.phone(parsed)? else {
        return Ok(Answer::fail(
            1,
            404,
            format!("no phone with MAC {}", parsed.colon()),
        ));
    };
    let model = user.phones.iter().find(|p| p.mac == parsed);
    let name = vendor
        .main_file()
        .and_then(|r| r.file_name_for(parsed, model.and_then(|p| p.model.as_deref())))
        .unwrap_or_default();
    let mut secrets: Vec<String> = Vec::new();
    for l in &user.lines {
        secrets.push(l.sip_password.clone());
    }
    secrets.extend(user.voicemail_pin.clone());
    if let Some(pw) = provisioner
        .store()
        .phone_state(parsed)?
        .and_then(|s| s.passwords)
    {
        secrets.push(pw.admin);
        secrets.push(pw.user);
    }
    if let Some(fixed) = sites.get(&user.site) {
        secrets.extend(fixed.admin.clone());
        secrets.extend(fixed.user.clone());
    }
    secrets.extend(provisioner.device_password(&parsed));
    let text = String::from_utf8_lossy(&rendered.body);
    let content = mask(&text, &secrets);
    let body = json!({"files": [{"name": name, "content": content}]});
    Ok(Answer::ok(
        serde_json::to_vec(&body).unwrap_or_default(),
        "application/json",
    ))
}

/// `text` with every occurrence of each secret (longest first, so one
/// that contains another goes whole) replaced by [`MASK`].
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut list: Vec<&String> = secrets
        .iter()
        .filter(|s| s.chars().count() >= MIN_MASKED)
        .collect();
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    list.dedup();
    let mut out = text.to_string();
    for s in list {
        out = out.replace(s.as_str(), MASK);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_by_value_longest_first() {
        let s = vec!["abcd".to_string(), "abcdef".to_string(), "12".to_string()];
        assert_eq!(
            super::mask("p=abcdef q=abcd r=12", &s),
            "p=******** q=******** r=12"
        );
    }
}
