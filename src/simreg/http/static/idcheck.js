// The document number's form and check character, checked in the page on blur
// with the same rules, in the same order and with the same reason codes as the
// service (src/simreg/domain/id_document.py): the service stays the authority
// (it also checks the region table, birth date, age and expiry).
(function () {
  "use strict";
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK_CHARS = "10X98765432";
  var HMT_REGIONS = ["810000", "820000", "830000"];
  var NOT_RESIDENT_PREFIXES = ["71", "81", "82", "83"];

  // As normalise_number: full-width forms folded, zero-width characters and all
  // whitespace removed, upper case.
  function normalise(text) {
    return String(text)
      .replace(/[\uFF01-\uFF5E]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
      .replace(/[\u200B\u200C\u200D\u2060\uFEFF]/g, "")
      .replace(/\s+/g, "")
      .toUpperCase();
  }

  function checkChar(first17) {
    var total = 0;
    for (var i = 0; i < 17; i++) total += (first17.charCodeAt(i) - 48) * WEIGHTS[i];
    return CHECK_CHARS.charAt(total % 11);
  }

  function fail(code, key, params) { return { code: code, key: key, params: params || null }; }

  function gb11643(n, isPermit) {
    if (!isPermit && /^[0-9]{15}$/.test(n)) return fail("ID.LEGACY_15_DIGIT", "id.legacy");
    if (!/^[0-9]{17}[0-9X]$/.test(n)) return fail("ID.FORMAT", "id.format.gb11643");
    if (checkChar(n.slice(0, 17)) !== n.charAt(17)) return fail("ID.CHECKSUM", "id.checksum");
    var region = n.slice(0, 6);
    if (isPermit) {
      if (HMT_REGIONS.indexOf(region) < 0) return fail("ID.REGION", "id.region.permit");
    } else if (NOT_RESIDENT_PREFIXES.indexOf(region.slice(0, 2)) >= 0) {
      return fail("ID.REGION", "id.region.resident", { region: region });
    }
    return null;
  }

  // null when the number passes the page's checks, else {code, key, params}:
  // code is the service's reason code, key the message of the failed rule.
  // idType is the API's id_type (cn_resident | hk_macau_taiwan | passport).
  function checkIdNumber(idType, text) {
    if (idType === "passport") return null;  // passports are checked from their MRZ, by the service
    var n = normalise(text || "");
    if (!n) return fail("ID.FORMAT", "id.format.required");
    if (idType === "cn_resident") return gb11643(n, false);
    if (idType === "hk_macau_taiwan") {  // as the service's document_kind()
      if (n.length === 18) return gb11643(n, true);
      if (n.charAt(0) === "H" || n.charAt(0) === "M") {
        return /^[HM][0-9]{8}([0-9]{2})?$/.test(n) ? null : fail("ID.FORMAT", "id.format.hkmo");
      }
      return /^[0-9]{8}$/.test(n) ? null : fail("ID.FORMAT", "id.format.tw");
    }
    return null;
  }

  window.Simreg = window.Simreg || {};
  window.Simreg.idcheck = { normalise: normalise, checkChar: checkChar, checkIdNumber: checkIdNumber };
})();
