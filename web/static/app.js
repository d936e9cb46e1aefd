// Pforte panel behaviour. Everything works without this file; it adds live
// updates (server-sent events), keyboard shortcuts and composer comforts.
// No inline handlers and no eval, so the strict CSP holds.
(function () {
	"use strict";
	var $ = function (sel, root) { return (root || document).querySelector(sel); };
	var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

	// --- Live updates -------------------------------------------------------
	var source = null;
	var retryDelay = 3000;
	var pending = {};
	function connect() {
		// Only the inbox's roles get the stream (the badge is theirs).
		if (source || !window.EventSource || !$("#badge-inbox")) return;
		source = new EventSource("/events");
		source.addEventListener("change", function (ev) {
			var d;
			try { d = JSON.parse(ev.data); } catch (e) { return; }
			schedule("list", refreshList);
			var conv = $("#thread");
			if (conv && String(d.conversation) === conv.getAttribute("data-conv")) {
				schedule("thread", refreshThread);
			}
			if (d.kind === "message" && d.inbound) notify(d);
			if (typeof d.unread === "number") setBadge(d.unread);
		});
		source.addEventListener("resync", function () {
			schedule("list", refreshList);
			schedule("thread", refreshThread);
		});
		source.onopen = function () { retryDelay = 3000; };
		source.onerror = function () {
			// EventSource reconnects by itself; a closed one (e.g. the session
			// ended) is reopened with a growing pause, up to a minute.
			if (source && source.readyState === 2) {
				source = null;
				setTimeout(connect, retryDelay);
				retryDelay = Math.min(retryDelay * 2, 60000);
			}
		};
	}
	// Coalesce bursts of events into one request per part of the page.
	function schedule(key, fn) {
		if (pending[key]) return;
		pending[key] = setTimeout(function () { pending[key] = 0; fn(); }, 120);
	}
	function refreshList() {
		var list = $("#convlist");
		if (!list || !window.htmx) return;
		var active = $(".conv.active");
		var url = list.getAttribute("data-list-url");
		if (active) url += "&active=" + active.getAttribute("data-conv");
		htmx.ajax("GET", url, { target: "#convlist", swap: "outerHTML" });
	}
	function refreshThread() {
		var t = $("#thread");
		if (!t || !window.htmx) return;
		var nearBottom = t.scrollHeight - t.scrollTop - t.clientHeight < 120;
		htmx.ajax("GET", "/conversations/" + t.getAttribute("data-conv") + "/thread", { target: "#thread", swap: "outerHTML" }).then(function () {
			var n = $("#thread");
			if (n && nearBottom) n.scrollTop = n.scrollHeight;
		});
	}
	function setBadge(n) {
		var b = $("#badge-inbox");
		if (!b) return;
		b.textContent = n.toLocaleString(document.documentElement.lang === "en" ? "en-GB" : "de-DE");
		b.classList.toggle("hidden", n === 0);
		document.title = document.title.replace(/^\(\d+\) /, "");
		if (n > 0) document.title = "(" + n + ") " + document.title;
	}
	function notify(d) {
		if (document.body.getAttribute("data-notify") !== "1" || !window.Notification) return;
		if (!document.hidden && $("#thread") && String(d.conversation) === $("#thread").getAttribute("data-conv")) return;
		if (Notification.permission === "granted") {
			var n = new Notification("Pforte", { body: d.title || "", tag: "conv-" + d.conversation });
			n.onclick = function () { window.focus(); location.href = "/conversations/" + d.conversation; };
		}
	}

	// --- Page setup (also after htmx swaps) ---------------------------------
	function setup(root) {
		$$("[data-autosubmit]", root).forEach(function (f) {
			if (f._auto) return;
			f._auto = true;
			// requestSubmit fires a real submit event, which htmx takes over
			// where the form has hx-post.
			f.addEventListener("change", function () { f.requestSubmit ? f.requestSubmit() : f.submit(); });
		});
		$$("[data-countdown]", root).forEach(tickCountdown);
		$$("form[data-composer] textarea[name=text]", root).forEach(typingSignal);
		$$("form[data-ia-form]", root).forEach(interactiveForm);
		var t = $("#thread", root) || (root.id === "thread" ? root : null);
		if (t && !t._scrolled) { t._scrolled = true; if (!location.hash) t.scrollTop = t.scrollHeight; }
		if (document.body.getAttribute("data-notify") === "1" && window.Notification && Notification.permission === "default") {
			document.addEventListener("click", function ask() { Notification.requestPermission(); document.removeEventListener("click", ask); });
		}
	}
	// While an agent writes, tell the customer ("typing…"); the server sends
	// it at most every 20 s and only where the number allows it.
	function typingSignal(ta) {
		if (ta._typing) return;
		ta._typing = true;
		var form = ta.form, last = 0;
		var m = (form.getAttribute("action") || "").match(/^\/conversations\/(\d+)\/send$/);
		if (!m) return;
		ta.addEventListener("input", function () {
			var now = Date.now();
			if (now - last < 20000 || !ta.value.trim()) return;
			last = now;
			fetch("/conversations/" + m[1] + "/typing", { method: "POST", credentials: "same-origin",
				headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "" }).catch(function () {});
		});
	}
	// The "buttons, list, location" picker: show the fields of the chosen
	// kind and a WhatsApp-like preview; the message chosen with "reply"
	// becomes the reaction's target (or the quoted message).
	function interactiveForm(form) {
		if (form._ia) return;
		form._ia = true;
		var kind = form.querySelector("[data-ia-kind]");
		function val(n) { var el = form.querySelector("[name=" + n + "]"); return el ? el.value.trim() : ""; }
		function render() {
			var k = kind.value;
			$$("fieldset[data-ia]", form).forEach(function (fs) {
				var on = fs.getAttribute("data-ia").split(" ").indexOf(k) >= 0;
				fs.hidden = !on;
				$$("input,textarea,select", fs).forEach(function (i) { i.disabled = !on; });
			});
			var pv = form.querySelector("[data-ia-preview]");
			pv.querySelector("[data-pv=header]").textContent = val("header");
			pv.querySelector("[data-pv=body]").textContent = val("body");
			pv.querySelector("[data-pv=footer]").textContent = val("footer");
			var btns = pv.querySelector("[data-pv=buttons]");
			btns.textContent = "";
			var labels = [];
			if (k === "button") labels = [val("b1"), val("b2"), val("b3")].filter(Boolean);
			if (k === "list" && val("list_button")) labels = ["☰ " + val("list_button")];
			if (k === "cta_url" && val("cta_text")) labels = ["↗ " + val("cta_text")];
			if (k === "location_request") labels = ["📍"];
			labels.forEach(function (l) { var s = document.createElement("span"); s.className = "i-button"; s.textContent = l; btns.appendChild(s); });
			pv.hidden = ["location", "contacts", "reaction"].indexOf(k) >= 0;
		}
		form.addEventListener("input", render);
		form.addEventListener("change", render);
		form.addEventListener("submit", function () {
			var c = $("[data-composer] [name=context]");
			if (c) form.querySelector("[name=context]").value = c.value;
		});
		render();
	}
	function tickCountdown(el) {
		var until = parseInt(el.getAttribute("data-countdown"), 10) * 1000;
		var out = el.querySelector(".cd");
		var en = document.documentElement.lang === "en";
		var left = until - Date.now();
		if (left <= 0) {
			el.classList.remove("open"); el.classList.add("closed");
			if (out) out.textContent = en ? "Window closed" : "Fenster zu";
			return;
		}
		var h = Math.floor(left / 3600000), m = Math.floor(left / 60000) % 60;
		if (out) out.textContent = en ? (h + ":" + (m < 10 ? "0" : "") + m + " h left") : ("noch " + h + ":" + (m < 10 ? "0" : "") + m + " Std.");
	}
	setInterval(function () { $$("[data-countdown]").forEach(tickCountdown); }, 30000);

	// --- Delegated events ---------------------------------------------------
	document.addEventListener("click", function (e) {
		var el = e.target.closest ? e.target : e.target.parentElement;
		var reply = el.closest("[data-reply]");
		if (reply) {
			var form = $("[data-composer]");
			if (!form) return;
			form.querySelector("[name=context]").value = reply.getAttribute("data-reply");
			$$("[data-ia-form] [name=context]").forEach(function (c) { c.value = reply.getAttribute("data-reply"); });
			var chip = form.querySelector(".reply-chip");
			chip.querySelector(".reply-text").textContent = reply.getAttribute("data-reply-text");
			chip.hidden = false;
			form.querySelector("textarea").focus();
			return;
		}
		if (el.closest("[data-reply-clear]")) {
			var f = el.closest("form");
			f.querySelector("[name=context]").value = "";
			f.querySelector(".reply-chip").hidden = true;
			return;
		}
		if (el.closest("[data-file-clear]")) {
			var f2 = el.closest("form");
			f2.querySelector("input[type=file]").value = "";
			f2.querySelector(".file-chip").hidden = true;
			return;
		}
		var emo = el.closest("[data-emoji]");
		if (emo) {
			var ta = $("[data-composer] textarea");
			insertAtCursor(ta, emo.getAttribute("data-emoji"));
			emo.closest("details").open = false;
			return;
		}
		var copy = el.closest("[data-copy]");
		if (copy && navigator.clipboard) {
			navigator.clipboard.writeText(copy.textContent.trim());
			copy.classList.add("copied");
			setTimeout(function () { copy.classList.remove("copied"); }, 1200);
		}
	});
	// Capture phase on the document: a cancelled confirmation stops the
	// event before htmx (boosted forms) or the browser can act on it.
	document.addEventListener("submit", function (e) {
		var msg = e.target.getAttribute("data-confirm");
		if (msg && !window.confirm(msg)) {
			e.preventDefault();
			e.stopImmediatePropagation();
			e.stopPropagation();
		}
	}, true);
	document.addEventListener("change", function (e) {
		var t = e.target;
		if (t.matches("[data-canned]")) {
			var opt = t.options[t.selectedIndex];
			if (opt && opt.getAttribute("data-body")) {
				var wrap = $("#composer");
				var name = wrap ? wrap.getAttribute("data-contact-name") : "";
				insertAtCursor($("[data-composer] textarea"), opt.getAttribute("data-body").replace(/\{\{\s*name\s*\}\}/g, name || ""));
			}
			t.selectedIndex = 0;
		}
		if (t.matches("[data-composer] input[type=file]")) {
			var chip = t.closest("form").querySelector(".file-chip");
			chip.querySelector(".file-name").textContent = t.files.length ? t.files[0].name : "";
			chip.hidden = !t.files.length;
		}
		if (t.matches("[data-tpl-select]")) {
			$$("[data-tpl]", t.form).forEach(function (fs) {
				var on = fs.getAttribute("data-tpl") === t.value;
				fs.hidden = !on;
				$$("input", fs).forEach(function (i) { i.disabled = !on; });
			});
			preview(t.form);
		}
	});
	document.addEventListener("input", function (e) {
		if (e.target.matches("[data-param]")) preview(e.target.form);
		if (e.target.matches("[data-composer] textarea")) grow(e.target);
	});
	function preview(form) {
		$$("[data-tpl]", form).forEach(function (fs) {
			$$("[data-fill]", fs).forEach(function (el) {
				var part = el.getAttribute("data-fill");
				var text = el.getAttribute("data-text") || "";
				$$("[data-param][data-part='" + part + "']", fs).forEach(function (i) {
					var v = i.value.trim();
					if (v) text = text.split("{{" + i.getAttribute("data-param") + "}}").join(v);
				});
				el.textContent = text;
			});
		});
	}
	// A new conversation offers only the templates of the chosen number's account.
	function filterTemplates(sel) {
		var form = sel.form, opt = sel.options[sel.selectedIndex];
		var waba = opt ? opt.getAttribute("data-waba") : "";
		$$("[data-tpl-select] option[data-waba]", form).forEach(function (o) {
			o.hidden = o.disabled = !!waba && o.getAttribute("data-waba") !== "" && o.getAttribute("data-waba") !== waba;
		});
	}
	$$("[data-number-select]").forEach(filterTemplates);
	document.addEventListener("htmx:load", function (e) { $$("[data-number-select]", e.target).forEach(filterTemplates); });
	document.addEventListener("change", function (e) {
		if (e.target.matches("[data-number-select]")) filterTemplates(e.target);
	});
	function grow(ta) { ta.style && (ta.rows = Math.min(10, Math.max(2, ta.value.split("\n").length))); }
	function insertAtCursor(ta, s) {
		if (!ta) return;
		var a = ta.selectionStart || 0, b = ta.selectionEnd || 0;
		ta.value = ta.value.slice(0, a) + s + ta.value.slice(b);
		ta.selectionStart = ta.selectionEnd = a + s.length;
		ta.focus();
	}

	// --- Keyboard -----------------------------------------------------------
	document.addEventListener("keydown", function (e) {
		var t = e.target;
		var typing = t.matches("input, textarea, select, [contenteditable]");
		if (t.matches("[data-composer] textarea") && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
			e.preventDefault();
			var f = t.form;
			f.requestSubmit ? f.requestSubmit() : f.submit();
			return;
		}
		if (e.key === "Escape" && typing) { t.blur(); return; }
		if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
		if (e.key === "/") { var s = $("[data-hotkey='/']"); if (s) { e.preventDefault(); s.focus(); } }
		else if (e.key === "j" || e.key === "k") { e.preventDefault(); move(e.key === "j" ? 1 : -1); }
		else if (e.key === "Enter") { var k = $(".conv.kbd a"); if (k) { e.preventDefault(); k.click(); } }
		else if (e.key === "r") { var c = $("[data-composer] textarea") || $("[data-tpl-select]"); if (c) { e.preventDefault(); c.focus(); } }
		else if (e.key === "Escape") { var b = $(".back"); if (b && getComputedStyle(b).display !== "none") b.click(); }
	});
	function move(dir) {
		var rows = $$(".convlist .conv");
		if (!rows.length) return;
		var cur = rows.findIndex(function (r) { return r.classList.contains("kbd"); });
		if (cur < 0) cur = rows.findIndex(function (r) { return r.classList.contains("active"); });
		var next = Math.max(0, Math.min(rows.length - 1, cur + dir));
		rows.forEach(function (r) { r.classList.remove("kbd"); });
		rows[next].classList.add("kbd");
		rows[next].scrollIntoView({ block: "nearest" });
	}

	document.addEventListener("DOMContentLoaded", function () { setup(document); connect(); });
	document.addEventListener("htmx:afterSwap", function (e) { setup(e.target); });
	document.addEventListener("htmx:afterSettle", function (e) { setup(e.target); });
	// After a sent message the composer comes back empty; keep focus there.
	document.addEventListener("htmx:afterSwap", function (e) {
		if (e.target.id === "composer" || (e.detail && e.detail.target && e.detail.target.id === "composer")) {
			var ta = $("[data-composer] textarea");
			if (ta && !$("#composer .note.err")) ta.focus();
			refreshThread();
		}
	});
})();
