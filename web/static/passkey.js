// Passkeys: registration on the account page, login without password on
// the login page, and the second factor after a password. The server sends
// WebAuthn options as JSON (base64url buffers) and takes the browser's
// answer as JSON; buttons carry data-passkey="register|login|2fa|reauth".
(function () {
  "use strict";
  var b64 = {
    enc: function (buf) {
      var s = "", bytes = new Uint8Array(buf);
      for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
      return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
    dec: function (str) {
      str = str.replace(/-/g, "+").replace(/_/g, "/");
      while (str.length % 4) str += "=";
      var bin = atob(str), out = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out.buffer;
    }
  };
  var paths = {
    register: ["/account/passkeys/begin", "/account/passkeys"],
    login: ["/login/passkey/begin", "/login/passkey"],
    "2fa": ["/login/2fa/passkey/begin", "/login/2fa/passkey"],
    reauth: ["/account/passkeys/reauth/begin", "/account/passkeys/reauth/passkey"]
  };
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return { error: "HTTP " + r.status }; });
    });
  }
  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64.dec(pk.challenge);
    pk.user.id = b64.dec(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64.dec(c.id); });
    return { publicKey: pk };
  }
  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64.dec(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64.dec(c.id); });
    return { publicKey: pk };
  }
  function attestation(c) {
    return {
      id: c.id, rawId: b64.enc(c.rawId), type: c.type,
      response: {
        attestationObject: b64.enc(c.response.attestationObject),
        clientDataJSON: b64.enc(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : []
      },
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }
  function assertion(c) {
    return {
      id: c.id, rawId: b64.enc(c.rawId), type: c.type,
      response: {
        authenticatorData: b64.enc(c.response.authenticatorData),
        clientDataJSON: b64.enc(c.response.clientDataJSON),
        signature: b64.enc(c.response.signature),
        userHandle: c.response.userHandle ? b64.enc(c.response.userHandle) : null
      },
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {}
    };
  }
  function showError(btn, msg) {
    var scope = btn.closest("form, .panel, section") || document;
    var el = scope.querySelector("[data-passkey-error]");
    if (!el) { alert(msg); return; }
    el.textContent = msg;
    el.hidden = false;
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-passkey]");
    if (!btn) return;
    ev.preventDefault();
    var mode = btn.getAttribute("data-passkey"), p = paths[mode];
    if (!p || !window.PublicKeyCredential) {
      showError(btn, btn.getAttribute("data-unsupported") || "Passkeys werden von diesem Browser nicht unterstützt.");
      return;
    }
    var finish = p[1];
    if (mode === "register") {
      var nameEl = document.querySelector("[data-passkey-name]");
      finish += "?name=" + encodeURIComponent(nameEl ? nameEl.value : "");
    }
    btn.disabled = true;
    post(p[0]).then(function (opts) {
      if (opts.error) throw new Error(opts.error);
      if (mode === "register") {
        return navigator.credentials.create(creationOptions(opts)).then(function (c) { return post(finish, attestation(c)); });
      }
      return navigator.credentials.get(requestOptions(opts)).then(function (c) { return post(finish, assertion(c)); });
    }).then(function (res) {
      if (res.error) throw new Error(res.error);
      window.location.assign(res.redirect || "/");
    }).catch(function (err) {
      btn.disabled = false;
      showError(btn, err && err.name === "NotAllowedError" ? (btn.getAttribute("data-cancelled") || "Abgebrochen.") : String(err.message || err));
    });
  });
})();
