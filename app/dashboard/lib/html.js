"use strict";

/**
 * HTML escaping, shared by the page and its charts: everything that comes from a store goes
 * through escapeHtml before it is placed in the page, in text or in a quoted attribute.
 */

/** @type {Record<string, string>} */
const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Text made safe to place in HTML content or in a quoted attribute (in HTML or inline SVG).
 * @param {unknown} value
 * @returns {string}
 */
function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]);
}

module.exports = { escapeHtml };
