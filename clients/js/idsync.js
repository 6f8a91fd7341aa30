/*! eventmap ID sync: OpenAI's oppref, first-party, on every event. docs/idsync.md */
(function (root) {
  'use strict';

  var DEFAULTS = {
    param: 'oppref',
    cookie: '__oppref', // as OpenAI's pixel names it
    browserIdCookie: '__obref', // OpenAI's pixel's browser id, when the pixel runs too
    days: 30,
    domain: '',
    consentRequired: false,
    server: '' // eventmap serve's URL, to set the cookie with Set-Cookie
  };
  // Anything but URL-safe text could write more than a value into the cookie.
  var VALID = /^[A-Za-z0-9._~+\/-]{1,256}$/;
  var CONSENT_KEY = 'eventmap_consent';

  function valid(value) {
    return typeof value === 'string' && VALID.test(value);
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split('; ') : [];
    for (var i = 0; i < parts.length; i++) {
      var at = parts[i].indexOf('=');
      if (parts[i].slice(0, at) === name) return parts[i].slice(at + 1);
    }
    return null;
  }

  function storage() {
    try {
      return root.localStorage;
    } catch (e) {
      return null;
    }
  }

  function IdSync(options) {
    var o = {};
    for (var k in DEFAULTS) o[k] = options && k in options ? options[k] : DEFAULTS[k];
    this.options = o;
    var ls = storage();
    this.consent = o.consentRequired ? (ls && ls.getItem(CONSENT_KEY)) === 'granted' : true;
    this.pending = null; // seen before consent
    this.capture(root.location && root.location.href);
  }

  IdSync.prototype = {
    get: function () {
      if (!this.consent) return null;
      var v = readCookie(this.options.cookie);
      if (!valid(v)) {
        var ls = storage();
        v = ls && ls.getItem(this.options.cookie);
      }
      return valid(v) ? v : null;
    },

    // OpenAI's pixel's browser id (sent as user.obref), if the pixel set one.
    browserId: function () {
      var v = this.consent ? readCookie(this.options.browserIdCookie) : null;
      return valid(v) ? v : null;
    },

    capture: function (url) {
      var value = null;
      try {
        value = new URL(url).searchParams.get(this.options.param);
      } catch (e) {
        return null;
      }
      if (!valid(value)) return null;
      if (!this.consent) {
        this.pending = value;
        return null;
      }
      this.store(value);
      return value;
    },

    store: function (value) {
      var o = this.options;
      var cookie = o.cookie + '=' + value + '; Max-Age=' + Math.round(o.days * 86400) +
        '; Path=/; SameSite=Lax' + (o.domain ? '; Domain=' + o.domain : '') +
        (root.location && root.location.protocol === 'https:' ? '; Secure' : '');
      document.cookie = cookie;
      if (readCookie(o.cookie) !== value) {
        var ls = storage(); // no cookies: localStorage
        if (ls) ls.setItem(o.cookie, value);
      }
      // Set-Cookie outlives script cookies where browsers cap those (ITP: 7 days).
      this.call('/v1/idsync?oppref=' + encodeURIComponent(value));
    },

    call: function (path) {
      var o = this.options;
      if (o.server && root.fetch) {
        root.fetch(o.server.replace(/\/$/, '') + path, {
          method: 'POST',
          credentials: 'include',
          keepalive: true
        }).catch(function () {});
      }
    },

    grant: function () {
      this.consent = true;
      var ls = storage();
      if (ls) ls.setItem(CONSENT_KEY, 'granted');
      if (this.pending) this.store(this.pending);
      this.pending = null;
    },

    revoke: function () {
      var o = this.options;
      this.consent = false;
      this.pending = null;
      // Wherever it was written: this host, the configured domain, or a parent domain the
      // server chose (--idsync-domain); and the server deletes the one it set.
      var host = (root.location && root.location.hostname) || '';
      var domains = [''];
      if (o.domain) domains.push(o.domain);
      for (var at = host.indexOf('.'); at > 0; at = host.indexOf('.', at + 1)) {
        domains.push(host.slice(at + 1));
      }
      for (var i = 0; i < domains.length; i++) {
        document.cookie = o.cookie + '=; Max-Age=0; Path=/' + (domains[i] ? '; Domain=' + domains[i] : '');
      }
      this.call('/v1/idsync/revoke');
      var ls = storage();
      if (ls) {
        ls.removeItem(o.cookie);
        ls.setItem(CONSENT_KEY, 'revoked');
      }
    },

    // Never overwrites what the page set.
    attach: function (event) {
      var context = (event.context = event.context || {});
      var providers = (context.providers = context.providers || {});
      var openAI = (providers.openAI = providers.openAI || {});
      var id = this.get();
      if (id && !openAI.oppref) openAI.oppref = id;
      var browser = this.browserId();
      if (browser && !openAI.obref) openAI.obref = browser;
      if (this.options.consentRequired) {
        var consent = (context.consent = context.consent || {});
        var prefs = (consent.categoryPreferences = consent.categoryPreferences || {});
        if (prefs.advertising === undefined) prefs.advertising = this.consent;
      }
      return event;
    },

    segmentMiddleware: function () {
      var self = this;
      return function (ctx) {
        self.attach(ctx.payload.obj);
        ctx.next(ctx.payload);
      };
    },

    // RudderStack JS: pass idsync.rudderContext() as a call's options (merged into context).
    rudderContext: function () {
      return this.attach({}).context;
    }
  };

  var api = {
    init: function (options) {
      return new IdSync(options);
    },
    valid: valid
  };
  root.EventmapIdSync = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
