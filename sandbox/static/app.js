"use strict";
// The newsbot sandbox page: draws the look-alike workspace the way Slack shows it and sends
// the user's actions to the sandbox, which passes them to the bot as Slack would.
// Content (article titles, excerpts, anything a file holds) never becomes HTML: every piece
// of text enters the page through text nodes, and links keep only http(s) and mailto URLs.

// Emoji are bundled images (sandbox/static/emoji/), never characters of a system font: a
// server without an emoji font shows them too. Any other name shows as its :label:.
const EMOJI = {
  white_check_mark: "white_check_mark", heavy_check_mark: "heavy_check_mark", x: "x",
  negative_squared_cross_mark: "negative_squared_cross_mark", no_entry: "no_entry",
  eyes: "eyes", tada: "tada", "+1": "thumbsup", thumbsup: "thumbsup", "-1": "thumbsdown",
  thumbsdown: "thumbsdown", heart: "heart", fire: "fire", newspaper: "newspaper", star: "star",
  warning: "warning", question: "question", exclamation: "exclamation",
  hourglass_flowing_sand: "hourglass_flowing_sand",  // a preview's "To review"
};
const PICKER_EXTRA = ["eyes", "+1", "tada", "heart", "newspaper"];
const LINK_SCHEMES = /^(https?:|mailto:)/i;

const ui = {};
const MEMBER_KEY = "newsbot-sandbox-member";
const page = {
  data: null,           // the last state from /api/state
  user: "",             // the member the page acts as ("": the sandbox's own user)
  generation: 0,        // bumped on a member switch: answers for the previous one are dropped
  pollAbort: null,      // aborts the long poll in flight
  sessionTs: null,      // ephemeral messages older than this page's session are not shown
  stick: true,          // the messages are scrolled to the newest: keep them there
  view: { kind: "channel", id: null },
  thread: null,         // the thread open in the side panel: { channel, ts }
  dismissed: new Set(), // ephemeral messages the user dismissed
  shownKeys: null,      // top-level entries drawn last time (to scroll to new ones)
  seen: new Map(),      // conversation id -> its top-level messages the user has seen
  syncTimer: null,
};

// ---- small helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child); // strings become text nodes
  }
  return node;
}

// Every action names the member the page acts as: the sandbox signs it as theirs.
async function api(path, body, signal) {
  const actor = page.data ? page.data.me.id : page.user;
  const options = body === undefined ? { signal } : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, user: actor || undefined }),
  };
  const response = await fetch(path, options);
  const doc = await response.json().catch(() => ({ ok: false }));
  if (!response.ok || !doc.ok) throw new Error(doc.error || `HTTP ${response.status}`);
  return doc;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Slack timestamps ("1700000000.000100") compared exactly (a float loses the last digits).
function tsValue(ts) {
  const [seconds, fraction = ""] = String(ts).split(".");
  return BigInt(seconds || "0") * 1000000n + BigInt((fraction + "000000").slice(0, 6));
}

function showError(message) {
  ui.error.textContent = message ? `Not done: ${message}` : "";
}

function emojiNode(name) {
  const base = name.split("::")[0];
  if (!EMOJI[base]) return el("span", { class: "emoji-label" }, `:${base}:`);
  return el("img", { class: "emoji", src: `/emoji/${EMOJI[base]}.svg`, alt: `:${base}:`,
    title: `:${base}:`, draggable: "false" });
}

function userName(id) {
  const user = page.data && page.data.users[id];
  return user ? user.name : id;
}

// Channels and the DM with the bot, as the sidebar lists them.
function conversations() {
  const data = page.data;
  return [
    ...data.channels.map((c) => ({ id: c.id, name: c.name, dm: false, label: `# ${c.name}` })),
    ...(data.dms || []).map((d) => ({ id: d.id, name: d.name, dm: true, label: d.name })),
  ];
}

function conversation(id) {
  return conversations().find((c) => c.id === id);
}

function topLevelCount(id) {
  const isReply = (m) => m.thread_ts && m.thread_ts !== m.ts;
  return (page.data.messages[id] || []).filter((m) => !isReply(m)).length;
}

function timeOf(ts) {
  const date = new Date(parseFloat(ts) * 1000);
  return {
    short: date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    full: date.toLocaleString(),
  };
}

// ---- mrkdwn: Slack's markup, drawn as DOM nodes

function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// Specials: <...> (links, mentions) and private-use characters already in the text.
const SPECIALS = /<([^<>]*)>|[\ue000-\uf8ff]/g;
// ...and a bare http(s) URL, linked as Slack does unless a text object is `verbatim`. It
// ends at a space, a backtick, <, > (escaped: &lt; &gt;) or | (which ends a link's URL in
// mrkdwn); trailing punctuation is the sentence's, except a closing bracket the URL opened.
const SPECIALS_AND_URLS = new RegExp(
  SPECIALS.source + "|(https?://(?:(?!&[lg]t;)[^\\s<>|`\\ue000-\\uf8ff])+)", "g");
const URL_TAIL = /[.,:;!?'"*_~)\]]+$/;
const OPENERS = { ")": "(", "]": "[" };

function splitUrl(match) {
  let url = match.replace(URL_TAIL, "");
  for (const char of match.slice(url.length)) {  // e.g. .../wiki/Mercury_(planet)
    const opener = OPENERS[char];
    if (!opener || count(url, opener) <= count(url, char)) break;
    url += char;
  }
  return [url, match.slice(url.length)];
}

function count(text, char) {
  return text.split(char).length - 1;
}

// Pull out the specials, leaving one private-use character per token so formatting can
// wrap around them.
function tokenize(text, verbatim) {
  const tokens = [];
  const mark = (token) => {
    tokens.push(token);
    return String.fromCharCode(0xe000 + tokens.length - 1);
  };
  const marked = text.replace(verbatim ? SPECIALS : SPECIALS_AND_URLS, (match, inner, bare) => {
    if (inner !== undefined) return mark({ inner });
    if (bare === undefined) return mark({ literal: match });
    const [url, tail] = splitUrl(bare);
    return /^https?:\/\/./.test(url) ? mark({ url }) + tail : bare;
  });
  return { marked, tokens };
}

function mrkdwn(text, verbatim) {
  const { marked, tokens } = tokenize(text || "", verbatim);
  const fragment = document.createDocumentFragment();
  marked.split(/```([\s\S]*?)```/).forEach((part, index) => {
    if (index % 2 === 1) fragment.append(el("pre", { class: "code-block" }, plain(part, tokens)));
    else inline(part, fragment, tokens);
  });
  return fragment;
}

const INLINE = new RegExp([
  "`([^`\\n]+)`",
  "(?<![\\p{L}\\p{N}*])\\*(?![\\s*])([^*\\n]*?[^\\s*])\\*(?![\\p{L}\\p{N}*])",
  "(?<![\\p{L}\\p{N}_])_(?![\\s_])([^_\\n]*?[^\\s_])_(?![\\p{L}\\p{N}_])",
  "(?<![\\p{L}\\p{N}~])~(?![\\s~])([^~\\n]*?[^\\s~])~(?![\\p{L}\\p{N}~])",
  ":([a-z0-9_+\\-]+(?:::skin-tone-\\d)?):",
].join("|"), "gu");

function inline(text, parent, tokens) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    withSpecials(text.slice(last, match.index), parent, tokens);
    const [whole, code, bold, italic, strike, emoji] = match;
    if (code !== undefined) parent.append(el("code", {}, plain(code, tokens)));
    else if (bold !== undefined) inline(bold, parent.appendChild(el("b")), tokens);
    else if (italic !== undefined) inline(italic, parent.appendChild(el("i")), tokens);
    else if (strike !== undefined) inline(strike, parent.appendChild(el("s")), tokens);
    else if (EMOJI[emoji.split("::")[0]]) parent.append(emojiNode(emoji));
    else parent.append(whole);
    last = match.index + whole.length;
  }
  withSpecials(text.slice(last), parent, tokens);
}

function withSpecials(text, parent, tokens) {
  for (const piece of text.split(/([\ue000-\uf8ff])/)) {
    if (!piece) continue;
    const token = piece.length === 1 ? tokens[piece.charCodeAt(0) - 0xe000] : undefined;
    if (token) parent.append(special(token));
    else parent.append(unescapeSlack(piece));
  }
}

function plain(text, tokens) {
  // Inside code: specials show as typed, nothing is formatted.
  return unescapeSlack(text.replace(/[\ue000-\uf8ff]/g, (ch) => {
    const token = tokens[ch.charCodeAt(0) - 0xe000];
    if (!token) return ch;
    if (token.inner === undefined) return token.literal !== undefined ? token.literal : token.url;
    return `<${token.inner}>`;
  }));
}

function special(token) {
  if (token.literal !== undefined) return token.literal;
  if (token.url !== undefined) return link(unescapeSlack(token.url), "");
  const [target, ...rest] = token.inner.split("|");
  const label = rest.length ? unescapeSlack(rest.join("|")) : "";
  if (target.startsWith("@")) {
    return el("span", { class: "mention" }, `@${label || userName(target.slice(1))}`);
  }
  if (target.startsWith("#")) {
    const channel = (page.data.channels || []).find((c) => c.id === target.slice(1));
    return el("span", { class: "mention" }, `#${label || (channel ? channel.name : target.slice(1))}`);
  }
  if (target.startsWith("!")) {
    const name = target.slice(1).split("^")[0];
    if (["channel", "here", "everyone"].includes(name)) {
      return el("span", { class: "mention" }, `@${name}`);
    }
    return label || unescapeSlack(target);
  }
  return link(unescapeSlack(target), label);
}

function link(url, label) {
  if (!LINK_SCHEMES.test(url)) return label || url;
  return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label || url);
}

function textObject(object) {
  if (!object) return "";
  if (object.type === "mrkdwn") return mrkdwn(object.text, object.verbatim === true);
  const text = object.text || "";
  if (object.emoji === false) return text;
  const fragment = document.createDocumentFragment();
  text.split(/(:[a-z0-9_+\-]+:)/).forEach((piece, index) => {
    const name = index % 2 ? piece.slice(1, -1) : null;
    fragment.append(name && EMOJI[name] ? emojiNode(name) : piece);
  });
  return fragment;
}

// ---- Block Kit

function image(url, alt, className) {
  const holder = el("div", { class: className });
  const fallback = () => {
    holder.classList.add("broken");
    holder.replaceChildren(el("span", { class: "img-alt", title: alt || "" }, alt || "image"));
  };
  if (!/^https?:\/\//i.test(url || "")) {
    fallback();
    return holder;
  }
  // Like Slack's image cache: an example article's image comes from the bundled copy.
  const src = (page.data.images || {})[url] || url;
  const img = el("img", { src, alt: alt || "", loading: "lazy", referrerpolicy: "no-referrer" });
  img.addEventListener("error", fallback);
  holder.append(img);
  return holder;
}

function button(element, block, where) {
  const node = el("button", {
    type: "button",
    class: `bk-button ${element.style === "primary" || element.style === "danger" ? element.style : ""}`,
    "aria-label": element.accessibility_label,  // what a screen reader says, as in Slack
  }, textObject(element.text));
  node.addEventListener("click", async () => {
    node.disabled = true;
    showError("");
    try {
      await api("/api/click", {
        action_id: element.action_id, block_id: block.block_id, channel: where.channel,
        ts: where.ts, ephemeral: !!where.ephemeral, home: !!where.home, modal: !!where.modal,
        unfurl: where.unfurl || "",
      });
      if (element.url && LINK_SCHEMES.test(element.url)) window.open(element.url, "_blank", "noopener");
    } catch (error) {
      showError(error.message);
    } finally {
      node.disabled = false;
    }
  });
  return node;
}

function element(item, block, where) {
  if (item.type === "button") return button(item, block, where);
  if (item.type === "image") return image(item.image_url, item.alt_text, "bk-context-image");
  if (item.type === "mrkdwn" || item.type === "plain_text") {
    return el("span", { class: "bk-text" }, textObject(item));
  }
  return el("span", { class: "bk-unsupported" }, `[${item.type}]`);
}

function renderBlock(block, where) {
  switch (block.type) {
    case "header":
      return el("div", { class: "bk-header" }, textObject(block.text));
    case "section": {
      const node = el("div", { class: "bk-section" });
      const main = el("div", { class: "bk-section-text" });
      if (block.text) main.append(textObject(block.text));
      if (block.fields) {
        main.append(el("div", { class: "bk-fields" },
          ...block.fields.map((field) => el("div", { class: "bk-field" }, textObject(field)))));
      }
      node.append(main);
      if (block.accessory) {
        const accessory = block.accessory.type === "image"
          ? image(block.accessory.image_url, block.accessory.alt_text, "bk-thumb")
          : element(block.accessory, block, where);
        node.append(el("div", { class: "bk-accessory" }, accessory));
      }
      return node;
    }
    case "context":
      return el("div", { class: "bk-context" },
        ...(block.elements || []).map((item) => element(item, block, where)));
    case "divider":
      return el("hr", { class: "bk-divider" });
    case "actions":
      return el("div", { class: "bk-actions" },
        ...(block.elements || []).map((item) => element(item, block, where)));
    case "image":
      return el("figure", { class: block.slack_file ? "bk-image file" : "bk-image" },
        image(block.image_url || slackFileUrl(block.slack_file), block.alt_text, "bk-image-frame"),
        block.title ? el("figcaption", {}, textObject(block.title)) : null);
    default:
      return el("div", { class: "bk-unsupported" }, `[${block.type} block]`);
  }
}

// An uploaded file an image block names (slack_file: {id} or {url}), as the look-alike serves it.
function slackFileUrl(slackFile) {
  if (!slackFile) return "";
  if (slackFile.url) return slackFile.url;
  const file = (page.data.files || {})[slackFile.id];
  return file ? file.url_private : "";
}

// Files shared in a message (files.completeUploadExternal): images inline, others as links.
function renderFiles(shared) {
  const known = page.data.files || {};
  return el("div", { class: "files" }, ...shared.map((one) => {
    const file = known[one.id] || one;
    if ((file.mimetype || "").startsWith("image/")) {
      return el("figure", { class: "bk-image file" },
        image(file.url_private, file.alt_txt || file.title, "bk-image-frame"),
        el("figcaption", {}, file.title || file.name));
    }
    return el("a", { class: "file", href: file.url_private, target: "_blank", rel: "noopener" },
      file.title || file.name);
  }));
}

function renderBlocks(blocks, where) {
  return el("div", { class: "blocks" }, ...blocks.map((block) => renderBlock(block, where)));
}

// ---- messages

function renderMessage(message, where) {
  const data = page.data;
  const fromApp = !!message.bot_id;
  const author = fromApp ? data.bot.name : userName(message.user);
  const when = timeOf(message.ts);
  const node = el("article", {
    class: `message${where.ephemeral ? " ephemeral" : ""}`,
    "data-ts": message.ts,
    "aria-label": `Message from ${author}`,
  });
  node.append(el("div", { class: `avatar ${fromApp ? "from-app" : "person"}`, "aria-hidden": "true" },
    author.slice(0, 1).toUpperCase()));
  const body = el("div", { class: "body" });
  const meta = el("div", { class: "meta" }, el("span", { class: "author" }, author));
  if (fromApp) meta.append(el("span", { class: "app-badge" }, "APP"));
  meta.append(el("time", { class: "time", title: when.full }, when.short));
  if (message.edited) meta.append(el("span", { class: "edited" }, "(edited)"));
  body.append(meta);
  if (where.ephemeral) {
    body.append(el("div", { class: "only-you" }, "Only visible to you \u00b7 ",
      el("button", {
        type: "button", class: "link",
        onclick: () => { page.dismissed.add(message.ts); render(); },
      }, "Dismiss")));
  }
  if (message.blocks && message.blocks.length) body.append(renderBlocks(message.blocks, where));
  else if (message.text || !message.files) body.append(el("div", { class: "text" }, mrkdwn(message.text)));
  if (message.files && message.files.length) body.append(renderFiles(message.files));
  // The app's link previews (chat.unfurl), under the message as Slack shows them.
  for (const preview of (message.attachments || []).filter((a) => a.is_app_unfurl && a.blocks)) {
    body.append(el("div", { class: "unfurl", "aria-label": `Preview of ${preview.app_unfurl_url}` },
      renderBlocks(preview.blocks, { ...where, ts: message.ts, unfurl: preview.app_unfurl_url })));
  }
  if (!where.ephemeral) {
    body.append(renderReactions(message, where));
    node.append(el("div", { class: "message-actions" }, el("button", {
      type: "button", class: "more-actions", "aria-label": "More actions", title: "More actions",
      "aria-haspopup": "menu", onclick: (event) => openMenu(event.currentTarget, where.channel, message),
    }, "\u22ee")));
  }
  node.append(body);
  return node;
}

function renderReactions(message, where) {
  const me = page.data.me.id;
  const bar = el("div", { class: "reactions" });
  for (const reaction of message.reactions || []) {
    const mine = reaction.users.includes(me);
    bar.append(el("button", {
      type: "button",
      class: `reaction${mine ? " mine" : ""}`,
      "aria-pressed": String(mine),
      "aria-label": `${reaction.name}: ${reaction.count}`,
      title: `${reaction.users.map(userName).join(", ")} reacted with :${reaction.name}:`,
      onclick: () => react(where.channel, message.ts, reaction.name, !mine),
    }, emojiNode(reaction.name),
    el("span", { class: "count" }, String(reaction.count))));
  }
  bar.append(el("button", {
    type: "button", class: "add-reaction", "aria-label": "Add reaction", title: "Add reaction",
    onclick: (event) => openPicker(event.currentTarget, where.channel, message),
  }, el("img", { src: "/emoji/add_reaction.svg", alt: "", class: "emoji" })));
  return bar;
}

async function react(channel, ts, name, add) {
  closePicker();
  showError("");
  try {
    await api("/api/react", { channel, ts, name, add });
  } catch (error) {
    showError(error.message);
  }
}

function openPicker(anchor, channel, message) {
  const picker = ui.picker;
  const me = page.data.me.id;
  const names = [...page.data.emoji.publish, ...page.data.emoji.skip, ...PICKER_EXTRA]
    .filter((name, index, all) => all.indexOf(name) === index);
  picker.replaceChildren(...names.map((name) => {
    const mine = (message.reactions || []).some((r) => r.name === name && r.users.includes(me));
    const role = page.data.emoji.publish.includes(name) ? "publish"
      : page.data.emoji.skip.includes(name) ? "skip" : "";
    return el("button", {
      type: "button", class: "pick", "aria-label": name,
      title: `:${name}:${role ? ` (${role})` : ""}`,
      onclick: () => react(channel, message.ts, name, !mine),
    }, emojiNode(name), el("span", { class: "pick-label" }, role || name));
  }));
  const box = anchor.getBoundingClientRect();
  picker.hidden = false;
  picker.style.left = `${Math.min(box.left, window.innerWidth - picker.offsetWidth - 8)}px`;
  picker.style.top = `${Math.max(8, box.top - picker.offsetHeight - 6)}px`;
  picker.firstChild.focus();
}

function closePicker() {
  ui.picker.hidden = true;
}

// A message's "More actions" menu: the app's message shortcuts, as Slack lists them.
function openMenu(anchor, channel, message) {
  const menu = ui.menu;
  const shortcuts = page.data.shortcuts || [];
  const items = shortcuts.map((shortcut) => el("button", {
    type: "button", role: "menuitem", class: "menu-item", title: shortcut.description,
    onclick: () => chooseShortcut(shortcut, channel, message.ts),
  }, shortcut.name, el("span", { class: "menu-app" }, page.data.bot.name)));
  if (!items.length) items.push(el("p", { class: "hint" }, "No app shortcuts"));
  menu.replaceChildren(el("div", { class: "menu-heading" }, "Message shortcuts"), ...items);
  const box = anchor.getBoundingClientRect();
  menu.hidden = false;
  menu.style.left = `${Math.max(8, Math.min(box.right - menu.offsetWidth, window.innerWidth - menu.offsetWidth - 8))}px`;
  const below = box.bottom + 4;
  menu.style.top = `${below + menu.offsetHeight > window.innerHeight ? Math.max(8, box.top - menu.offsetHeight - 4) : below}px`;
  const first = menu.querySelector("[role=menuitem]");
  if (first) first.focus();
}

function closeMenu() {
  ui.menu.hidden = true;
}

async function chooseShortcut(shortcut, channel, ts) {
  closeMenu();
  showError("");
  try {
    await api("/api/shortcut", { callback_id: shortcut.callback_id, channel, ts });
  } catch (error) {
    showError(error.message);
  }
}

// Keep unchanged nodes (and so scroll position, focus, loaded images) across updates.
function reconcile(container, items) {
  const old = new Map();
  for (const child of Array.from(container.children)) old.set(child.dataset.key, child);
  items.forEach((item, index) => {
    let node = old.get(item.key);
    old.delete(item.key);
    if (!node || node.dataset.sig !== item.sig) {
      const fresh = item.build();
      fresh.dataset.key = item.key;
      fresh.dataset.sig = item.sig;
      if (node) node.replaceWith(fresh);
      node = fresh;
    }
    const at = container.children[index];
    if (at !== node) container.insertBefore(node, at || null);
    if (item.fill) item.fill(node);
  });
  for (const stale of old.values()) stale.remove();
}

function byTs(a, b) {
  return parseFloat(a.message.ts) - parseFloat(b.message.ts) || a.message.ts.localeCompare(b.message.ts);
}

function channelEntries(channelId) {
  const data = page.data;
  const top = [];
  const replies = new Map();
  const isReply = (m) => m.thread_ts && m.thread_ts !== m.ts;
  for (const message of data.messages[channelId] || []) {
    if (isReply(message)) {
      if (!replies.has(message.thread_ts)) replies.set(message.thread_ts, []);
      replies.get(message.thread_ts).push({ message, ephemeral: false });
      if (message.subtype === "thread_broadcast") top.push({ message, ephemeral: false });
    } else {
      top.push({ message, ephemeral: false });
    }
  }
  for (const message of data.ephemeral) {
    if (message.channel !== channelId || page.dismissed.has(message.ts)) continue;
    // as Slack: ephemeral messages live in the client that showed them, gone on reload
    if (page.sessionTs && tsValue(message.ts) < tsValue(page.sessionTs)) continue;
    if (message.thread_ts && replies.has(message.thread_ts)) {
      replies.get(message.thread_ts).push({ message, ephemeral: true });
    } else {
      top.push({ message, ephemeral: true });
    }
  }
  top.sort(byTs);
  for (const list of replies.values()) list.sort(byTs);
  return { top, replies };
}

function messageItem(entry, channelId) {
  const where = { channel: channelId, ts: entry.message.ts, ephemeral: entry.ephemeral };
  return {
    key: `${entry.ephemeral ? "e" : "m"}:${entry.message.ts}`,
    sig: JSON.stringify(entry.message),
    build: () => renderMessage(entry.message, where),
  };
}

function replyCount(list) {
  const count = list.filter((entry) => !entry.ephemeral).length;
  return `${count} ${count === 1 ? "reply" : "replies"}`;
}

// As in Slack: a thread shows as "N replies" under its parent and opens in a side panel.
function threadLinkItem(parentTs, list, channelId) {
  const open = !!page.thread && page.thread.ts === parentTs;
  return {
    key: "thread-link",
    sig: `${replyCount(list)}:${open}`,
    build: () => el("button", {
      type: "button", class: `thread-link${open ? " open" : ""}`, "aria-expanded": String(open),
      onclick: () => openThread(channelId, parentTs),
    }, replyCount(list)),
  };
}

function openThread(channel, ts) {
  page.thread = { channel, ts };
  ui.syncPanel.hidden = true;
  ui.syncToggle.setAttribute("aria-expanded", "false");
  render();
}

function closeThread() {
  page.thread = null;
  render();
}

function renderThread() {
  const thread = page.thread;
  const open = !!thread && page.view.kind === "channel" && thread.channel === page.view.id;
  ui.threadPanel.hidden = !open;
  if (!open) return;
  const { top, replies } = channelEntries(thread.channel);
  const parent = top.find((entry) => entry.message.ts === thread.ts && !entry.ephemeral);
  if (!parent) {
    closeThread();
    return;
  }
  const list = replies.get(thread.ts) || [];
  const where = conversation(thread.channel);
  ui.threadTitle.textContent = where ? where.label : thread.channel;
  reconcile(ui.threadMessages, [
    messageItem(parent, thread.channel),
    { key: "count", sig: replyCount(list),
      build: () => el("div", { class: "thread-count" }, replyCount(list)) },
    ...list.map((entry) => messageItem(entry, thread.channel)),
  ]);
}

function renderChannel(channelId) {
  const { top, replies } = channelEntries(channelId);
  const items = top.map((entry) => {
    const thread = entry.ephemeral ? [] : replies.get(entry.message.ts) || [];
    const key = `${entry.ephemeral ? "e" : "m"}:${entry.message.ts}`;
    return {
      key,
      sig: "entry",
      build: () => el("div", { class: "entry" }),
      fill: (node) => reconcile(node, [messageItem(entry, channelId),
        ...(thread.length ? [threadLinkItem(entry.message.ts, thread, channelId)] : [])]),
    };
  });
  if (!items.length) {
    items.push({ key: "empty", sig: `${channelId}:${page.data.articles}`,
      build: () => emptyHint(conversation(channelId)) });
  }
  const opened = !page.shownKeys;  // the channel was just opened (or the page loaded)
  reconcile(ui.messages, items);
  const keys = new Set(items.map((item) => item.key));
  if (opened || page.stick) {
    scrollToNewest();  // as Slack opens a channel: at its newest message
  } else {
    const added = items.filter((item) => !page.shownKeys.has(item.key));
    if (added.length) {
      const last = ui.messages.querySelector(`[data-key="${CSS.escape(added[added.length - 1].key)}"]`);
      if (last) last.scrollIntoView({ block: "nearest" });
    }
  }
  page.shownKeys = keys;
}

function scrollToNewest() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  page.stick = true;
}

// What an empty channel or DM is for: how to get an alert into it.
function emptyHint(where) {
  const folder = el("code", {}, page.data.articles);
  if (where && where.dm) {
    return el("p", { class: "hint empty" }, "Your direct messages with ", where.name, ". Type ",
      el("code", {}, "/news follow topics=AI"), " (here or in any channel), then copy an "
      + "article file with that topic into ", folder, ": its alert arrives here within seconds.");
  }
  return el("p", { class: "hint empty" }, "No messages here yet. Type ",
    el("code", {}, "/news subscribe topics=AI"), " to subscribe this channel, then copy an "
    + "article file with that topic into ", folder, ": its alert appears here within seconds.");
}

function navItem(where) {
  const active = page.view.kind === "channel" && page.view.id === where.id;
  const unread = active ? 0 : Math.max(0, topLevelCount(where.id) - (page.seen.get(where.id) || 0));
  return {
    key: where.id,
    sig: `${where.label}:${active}:${unread}`,
    build: () => el("li", {}, el("button", {
      type: "button",
      class: `nav-item${active ? " active" : ""}${unread ? " unread" : ""}`,
      "aria-current": active ? "page" : null,
      onclick: () => showChannel(where.id),
    }, where.label, unread ? el("span", { class: "unread-count" }, String(unread),
      el("span", { class: "visually-hidden" }, " new")) : null)),
  };
}

function renderHome() {
  const view = page.data.home;
  if (!view) {
    ui.home.replaceChildren(el("p", { class: "hint" }, "Opening the Home tab\u2026"));
    return;
  }
  if (ui.home.dataset.sig === JSON.stringify(view)) return;
  ui.home.dataset.sig = JSON.stringify(view);
  ui.home.replaceChildren(renderBlocks(view.blocks || [], { home: true }));
}

function render() {
  const data = page.data;
  if (!data) return;
  ui.teamName.textContent = data.team.name;
  renderMembers();
  ui.articles.textContent = data.articles;
  if (!page.view.id && data.channels.length) page.view.id = data.channels[0].id;
  const all = conversations();
  for (const where of all) {
    // what was there when the page opened counts as seen, and so does the open channel
    const open = page.view.kind === "channel" && page.view.id === where.id;
    if (open || !page.seen.has(where.id)) page.seen.set(where.id, topLevelCount(where.id));
  }
  reconcile(ui.channels, all.filter((c) => !c.dm).map(navItem));
  reconcile(ui.dms, all.filter((c) => c.dm).map(navItem));
  ui.openHome.classList.toggle("active", page.view.kind === "home");
  const home = page.view.kind === "home";
  ui.messages.hidden = home;
  ui.composer.hidden = home;
  ui.home.hidden = !home;
  if (home) {
    ui.title.textContent = `${data.bot.name} \u00b7 Home`;
    renderHome();
  } else {
    const where = conversation(page.view.id);
    ui.title.textContent = where ? where.label : page.view.id;
    const to = where ? (where.dm ? where.name : `#${where.name}`) : "";
    ui.input.placeholder = `Message ${to}, or try /news help`;
    renderChannel(page.view.id);
  }
  renderThread();
  renderModal();
}

// The member switcher: each member of the workspace the page may act as.
function renderMembers() {
  const sig = JSON.stringify([page.data.members, page.data.me.id]);
  if (ui.members.dataset.sig === sig) return;
  ui.members.dataset.sig = sig;
  ui.members.replaceChildren(...page.data.members.map((member) => el("option", {
    value: member.id, selected: member.id === page.data.me.id }, member.realName)));
}

// Signing in as another member is a fresh Slack client: their channels' unread marks,
// their DM, Home tab and modals, and none of the previous member's ephemeral messages.
function switchMember(id) {
  page.user = id;
  try {
    localStorage.setItem(MEMBER_KEY, id);
  } catch (error) { /* storage off: the switch lasts until the page reloads */ }
  page.generation += 1;
  if (page.pollAbort) page.pollAbort.abort();
  Object.assign(page, { data: null, view: { kind: "channel", id: null }, thread: null,
    dismissed: new Set(), shownKeys: null, seen: new Map(), sessionTs: null });
  closePicker();
  closeMenu();
  showError("");
}

function showChannel(id) {
  page.view = { kind: "channel", id };
  page.shownKeys = null;
  render();
}

async function showHome() {
  page.view = { kind: "home", id: null };
  render();
  try {
    await api("/api/home", {});
  } catch (error) {
    showError(error.message);
  }
}


// ---- modals: the view on top of the user's stack, its inputs as form controls

const MULTI = ["checkboxes", "multi_static_select", "multi_external_select"];

function optionsOf(element) {
  const all = [...(element.options || [])];
  for (const group of element.option_groups || []) all.push(...(group.options || []));
  return all;
}

function optionNode(option, selected) {
  return el("option", { value: option.value, selected }, option.text ? option.text.text : option.value);
}

function inputControl(element, id) {
  const initial = new Set((element.initial_options || []).map((o) => o.value));
  const one = element.initial_option ? element.initial_option.value : null;
  switch (element.type) {
    case "conversations_select":
    case "channels_select": {
      const select = el("select", { id }, el("option", { value: "" },
        element.placeholder ? element.placeholder.text : "Pick a channel"));
      for (const channel of page.data.channels) {
        select.append(el("option", { value: channel.id,
          selected: channel.id === (element.initial_conversation || element.initial_channel) },
        `# ${channel.name}`));
      }
      return select;
    }
    case "timepicker":
      return el("input", { id, type: "time", value: element.initial_time || "" });
    case "datepicker":
      return el("input", { id, type: "date", value: element.initial_date || "" });
    case "checkboxes":
      return el("fieldset", { id, class: "bk-checkboxes" }, ...(element.options || []).map((o) =>
        el("label", {}, el("input", { type: "checkbox", value: o.value, checked: initial.has(o.value) }),
          ` ${o.text.text}`)));
    case "static_select":
    case "multi_static_select": {
      const multiple = element.type === "multi_static_select";
      const select = el("select", { id, multiple });
      if (!multiple && !one) select.append(el("option", { value: "" }, "Pick one"));
      if (element.option_groups) {
        for (const group of element.option_groups) {
          select.append(el("optgroup", { label: group.label.text },
            ...group.options.map((o) => optionNode(o, o.value === one))));
        }
      } else {
        for (const o of element.options || []) {
          select.append(optionNode(o, multiple ? initial.has(o.value) : o.value === one));
        }
      }
      return select;
    }
    case "multi_external_select":
      return externalSelect(element, id);
    case "number_input":
      return el("input", { id, type: "text", inputmode: element.is_decimal_allowed ? "decimal" : "numeric",
        value: element.initial_value || "" });
    default:
      return el("input", { id, type: "text", value: element.initial_value || "",
        placeholder: element.placeholder ? element.placeholder.text : null });
  }
}

function inputValue(element, control) {
  if (element.type === "checkboxes") {
    return [...control.querySelectorAll("input:checked")].map((box) => box.value);
  }
  if (element.type === "multi_static_select" || element.type === "multi_external_select") {
    return [...control.selectedOptions].map((o) => o.value);
  }
  return control.value;
}

// An external select, as Slack shows one: a search box whose words go to the app as a
// block_suggestion (once min_query_length characters are typed); its answer fills the list.
// What was chosen stays chosen while other words are searched.
function externalSelect(element, id) {
  const select = el("select", { id, multiple: true, class: "external-options" },
    ...(element.initial_options || []).map((o) => optionNode(o, true)));
  const search = el("input", { type: "search", class: "external-search",
    placeholder: element.placeholder ? `${element.placeholder.text}: type to search` : "Type to search",
    "aria-label": "Search options" });
  let timer = null;
  let asked = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const block = search.closest(".modal-input").dataset.block;
      const question = ++asked;
      try {
        const answer = await api("/api/view/suggest", { block_id: block,
          action_id: element.action_id, value: search.value });
        if (question !== asked) return;  // a later search is on its way
        const chosen = [...select.selectedOptions];
        const keep = new Set(chosen.map((o) => o.value));
        select.replaceChildren(...chosen, ...answer.options.filter((o) => !keep.has(o.value))
          .map((o) => el("option", { value: o.value }, o.text)));
      } catch (error) {
        showError(error.message);
      }
    }, 150);
  });
  return el("div", { class: "external-select" }, search, select);
}

function renderModalBlock(block, index) {
  if (block.type !== "input") return renderBlock(block, { modal: true });
  const id = `modal-input-${index}`;
  const control = inputControl(block.element, id);
  const label = el("label", { for: id, class: "modal-label" }, block.label.text,
    block.optional ? el("span", { class: "optional" }, " (optional)") : null);
  const node = el("div", { class: "modal-input", "data-block": block.block_id }, label, control,
    block.hint ? el("div", { class: "modal-hint" }, block.hint.text) : null,
    el("div", { class: "modal-error", role: "alert", hidden: true }));
  if (control.tagName === "FIELDSET") control.setAttribute("aria-label", block.label.text);
  return node;
}

function renderModal() {
  const shown = page.data.modal;
  ui.modalBackdrop.hidden = !shown;
  if (!shown) {
    ui.modal.dataset.sig = "";
    return;
  }
  const view = shown.view;
  const sig = `${view.id}:${view.hash}`;
  if (ui.modal.dataset.sig !== sig) {
    ui.modal.dataset.sig = sig;
    ui.modal.replaceChildren(
      el("header", { class: "modal-header" },
        el("h2", { id: "modal-title" }, view.title ? view.title.text : ""),
        el("button", { type: "button", class: "close", "aria-label": "Close", onclick: closeModal }, "\u00d7")),
      el("div", { class: "modal-body" }, ...(view.blocks || []).map(renderModalBlock)),
      el("footer", { class: "modal-footer" },
        el("button", { type: "button", class: "bk-button", onclick: closeModal },
          view.close ? view.close.text : "Cancel"),
        view.submit ? el("button", { type: "submit", class: "bk-button primary" }, view.submit.text) : null));
    const first = ui.modal.querySelector("input, select");
    if (first) first.focus();
  }
  for (const node of ui.modal.querySelectorAll(".modal-input")) {
    const message = shown.errors[node.dataset.block];
    const error = node.querySelector(".modal-error");
    error.hidden = !message;
    error.textContent = message || "";
    node.classList.toggle("invalid", !!message);
  }
}

async function submitModal(event) {
  event.preventDefault();
  const view = page.data.modal && page.data.modal.view;
  if (!view) return;
  const values = {};
  (view.blocks || []).forEach((block, index) => {
    if (block.type !== "input") return;
    values[block.block_id] = inputValue(block.element, document.getElementById(`modal-input-${index}`));
  });
  showError("");
  try {
    await api("/api/view/submit", { values });
  } catch (error) {
    showError(error.message);
  }
}

async function closeModal() {
  try {
    await api("/api/view/close", {});
  } catch (error) {
    showError(error.message);
  }
}

// ---- the sync panel

function diffLine(line) {
  let kind = "same";
  if (line.startsWith("+++") || line.startsWith("---")) kind = "file";
  else if (line.startsWith("+")) kind = "added";
  else if (line.startsWith("-")) kind = "removed";
  else if (line.startsWith("@@")) kind = "hunk";
  return el("span", { class: `diff-${kind}` }, line || " ");
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

async function loadPreview() {
  try {
    const report = await api("/api/sync");
    const diff = report.diff.replace(/\n$/, "");
    if (diff) ui.diff.replaceChildren(...diff.split("\n").map(diffLine));
    else ui.diff.replaceChildren(el("span", { class: "diff-none" },
      "Nothing to write: every file already shows its decision."));
    ui.diff.dataset.files = String(report.written.length);
    ui.diff.dataset.conflicts = String(report.conflicts.length);
  } catch (error) {
    ui.diff.replaceChildren(el("span", { class: "diff-none" }, `Preview failed: ${error.message}`));
  }
}

async function runSync() {
  ui.syncRun.disabled = true;
  ui.result.textContent = "Syncing\u2026";
  try {
    const report = await api("/api/sync", {});
    const lines = [el("p", {}, `Wrote ${plural(report.written.length, "file")}, `
      + `${report.unchanged} unchanged, ${plural(report.conflicts.length, "conflict")}.`)];
    if (report.written.length) {
      lines.push(el("ul", {}, ...report.written.map((w) =>
        el("li", {}, el("b", {}, w.action), ` ${w.title} `, el("code", {}, w.id)))));
    }
    if (report.conflicts.length) {
      lines.push(el("p", {}, "Left as they are:"), el("ul", {}, ...report.conflicts.map((c) =>
        el("li", {}, el("code", {}, c.id), `: ${c.reason}`))));
    }
    for (const note of [...report.notes, ...report.errors]) lines.push(el("p", {}, note));
    ui.result.replaceChildren(...lines);
  } catch (error) {
    ui.result.textContent = `Sync failed: ${error.message}`;
  } finally {
    ui.syncRun.disabled = false;
  }
  await loadPreview();
}

function toggleSync() {
  const open = ui.syncPanel.hidden;
  if (open) page.thread = null;  // one side panel at a time, as in Slack
  renderThread();
  ui.syncPanel.hidden = !open;
  ui.syncToggle.setAttribute("aria-expanded", String(open));
  if (open) loadPreview();
}

// ---- live updates: long-poll the sandbox for the next change

async function poll() {
  for (;;) {
    const generation = page.generation;
    page.pollAbort = new AbortController();
    try {
      const since = page.data ? `&since=${page.data.version}` : "";
      const doc = await api(`/api/state?user=${encodeURIComponent(page.user)}${since}`,
        undefined, page.pollAbort.signal);
      if (generation !== page.generation) continue;  // asked for the previous member
      ui.connection.hidden = true;
      if (!page.data || doc.version !== page.data.version) {
        if (!page.sessionTs) page.sessionTs = doc.now;  // this page's session starts now
        page.data = doc;
        page.user = doc.me.id;
        render();
        if (!ui.syncPanel.hidden) {
          clearTimeout(page.syncTimer);
          page.syncTimer = setTimeout(loadPreview, 250);
        }
      }
    } catch (error) {
      if (generation !== page.generation) continue;
      if (page.user && /user_not_found/.test(error.message)) page.user = "";  // gone: default
      ui.connection.hidden = false;
      await sleep(1000);
    }
  }
}

function start() {
  const byId = (id) => document.getElementById(id);
  Object.assign(ui, {
    messages: byId("messages"), home: byId("home"), channels: byId("channel-list"),
    dms: byId("dm-list"),
    title: byId("view-title"), teamName: byId("team-name"), members: byId("member-select"),
    menu: byId("message-menu"), threadComposer: byId("thread-composer"),
    threadInput: byId("thread-input"),
    composer: byId("composer"), input: byId("composer-input"), error: byId("composer-error"),
    picker: byId("emoji-picker"), connection: byId("connection"), openHome: byId("open-home"),
    syncPanel: byId("sync-panel"), syncToggle: byId("toggle-sync"), syncRun: byId("sync-run"),
    diff: byId("sync-diff"), result: byId("sync-result"), articles: byId("articles-folder"),
    threadPanel: byId("thread-panel"), threadTitle: byId("thread-channel"),
    threadMessages: byId("thread-messages"), modal: byId("modal"),
    modalBackdrop: byId("modal-backdrop"),
  });
  ui.modal.addEventListener("submit", submitModal);
  try {
    page.user = localStorage.getItem(MEMBER_KEY) || "";
  } catch (error) { /* storage off: the sandbox's own user */ }
  ui.members.addEventListener("change", () => switchMember(ui.members.value));
  ui.messages.addEventListener("scroll", () => {
    const m = ui.messages;
    page.stick = m.scrollHeight - m.scrollTop - m.clientHeight < 8;
  });
  // an image that loads late grows its message: the newest stays in view
  ui.messages.addEventListener("load", () => {
    if (page.stick) ui.messages.scrollTop = ui.messages.scrollHeight;
  }, true);
  ui.threadComposer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = ui.threadInput.value.trim();
    if (!text || !page.thread) return;
    showError("");
    try {
      await api("/api/command", { channel: page.thread.channel, text, thread_ts: page.thread.ts });
      ui.threadInput.value = "";
    } catch (error) {
      showError(error.message);
    }
  });
  // the message box stays clear of a floating side panel (narrow windows)
  new ResizeObserver(() => document.documentElement.style.setProperty(
    "--composer-height", `${ui.composer.offsetHeight}px`)).observe(ui.composer);
  byId("thread-close").addEventListener("click", closeThread);
  ui.composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (!text) return;
    showError("");
    try {
      await api("/api/command", { channel: page.view.id, text });
      ui.input.value = "";
    } catch (error) {
      showError(error.message);
    }
  });
  ui.openHome.addEventListener("click", showHome);
  ui.syncToggle.addEventListener("click", toggleSync);
  byId("sync-refresh").addEventListener("click", loadPreview);
  ui.syncRun.addEventListener("click", runSync);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      if (!ui.modalBackdrop.hidden) closeModal();
      else if (!ui.menu.hidden) closeMenu();
      else if (!ui.picker.hidden) closePicker();
      else if (page.thread) closeThread();
    }
  });
  document.addEventListener("click", (event) => {
    if (!ui.picker.hidden && !ui.picker.contains(event.target)
        && !event.target.closest(".add-reaction")) closePicker();
    if (!ui.menu.hidden && !ui.menu.contains(event.target)
        && !event.target.closest(".more-actions")) closeMenu();
  });
  poll();
}

document.addEventListener("DOMContentLoaded", start);
