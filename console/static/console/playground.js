// The playground: one conversation with the agent through the chat completions endpoint, as a
// Vapi call would have it (history in `messages`, the caller in `customer.number`, streamed).
// Each content delta of the SSE stream is appended as it is parsed; tool calls in the stream
// (delta.tool_calls: the client's tools, here Vapi's endCall / transferCall) are shown as they come,
// in the order they happened: a bank tool that ran before an answer shows above that answer.
// One conversation is one call: every request of it carries the same `metadata.conversation_id`
// (a new one after "New conversation"), which the server turns into the call's id.
"use strict";

(() => {
  const root = document.getElementById("playground");
  const conversation = document.getElementById("conversation");
  const composer = document.getElementById("composer");
  const message = document.getElementById("message");
  const callAs = document.getElementById("call-as");
  const speak = document.getElementById("speak");
  const vapiTools = document.getElementById("vapi-tools");
  const mic = document.getElementById("mic");
  const sendButton = document.getElementById("send");
  const status = document.getElementById("status");
  const hint = document.getElementById("hint");
  let history = [];
  const MAX_TOOL_ROUNDS = 3;

  // 32 hex digits from the browser's CSPRNG (crypto.randomUUID needs HTTPS; this works on plain HTTP too).
  function newConversationId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  let conversationId = newConversationId();

  const VAPI_TOOLS = [
    {type: "function", function: {name: "endCall", description: "End the call when the caller says goodbye.",
                                   parameters: {type: "object", properties: {}}}},
    {type: "function", function: {name: "transferCall", description: "Transfer the caller to a person.",
                                  parameters: {type: "object", properties: {}}}},
  ];

  function entry(role, className, before) {
    hint.hidden = true;
    const item = document.createElement("li");
    item.className = `${role} ${className || ""}`.trim();
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : role === "tool" ? "Tool call" : "Agent";
    const body = document.createElement("div");
    body.className = "text";
    item.append(who, body);
    conversation.insertBefore(item, before || null);
    item.scrollIntoView({block: "end"});
    return body;
  }

  // The agent's reply being streamed. A bank tool that starts goes where it happened: above the reply
  // when nothing was said yet, else after what was said, with the rest of the reply in a new entry.
  function replyView() {
    const view = {body: entry("assistant", "streaming")};
    view.tool = (text) => {
      const current = view.body.parentElement;
      if (!view.body.textContent) {
        entry("tool", "", current).textContent = text;
        return;
      }
      current.classList.remove("streaming");
      entry("tool").textContent = text;
      view.body = entry("assistant", "streaming");
    };
    return view;
  }

  // --- speaking replies, a sentence at a time as they stream in ---
  let unspoken = "";
  function speakText(text, flush) {
    if (!speak.checked || !("speechSynthesis" in window)) return;
    unspoken += text;
    const sentences = flush ? [unspoken] : unspoken.match(/[^.!?]+[.!?]+\s/g) || [];
    for (const sentence of sentences) {
      if (sentence.trim()) window.speechSynthesis.speak(new SpeechSynthesisUtterance(sentence.trim()));
      unspoken = unspoken.slice(sentence.length);
    }
  }

  // --- the SSE stream: `data: {...}` events separated by a blank line; `: ping` comments ignored,
  // `: tool NAME` comments (one of the bank's tools started) shown ---
  function* events(buffer, reply) {
    let boundary;
    while ((boundary = buffer.text.indexOf("\n\n")) >= 0) {
      const raw = buffer.text.slice(0, boundary);
      buffer.text = buffer.text.slice(boundary + 2);
      if (raw.startsWith(": tool ")) {
        reply.tool(`${raw.slice(7)} (the bank's tool)`);
        continue;
      }
      const data = raw.split("\n").filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, "")).join("\n");
      if (data) yield data;
    }
  }

  function showToolCall(calls, part) {
    let call = calls[part.index];
    if (!call) {
      call = calls[part.index] = {id: part.id, type: "function", function: {name: part.function.name, arguments: ""},
                                  view: entry("tool")};
    }
    call.function.arguments += part.function.arguments || "";
    call.view.textContent = `${call.function.name}(${call.function.arguments || "{}"})`;
  }

  async function readStream(response, reply) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const buffer = {text: ""};
    const result = {text: "", toolCalls: [], finish: null, model: null, error: null};
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer.text += value.replace(/\r\n/g, "\n");
      for (const data of events(buffer, reply)) {
        if (data === "[DONE]") return result;
        const chunk = JSON.parse(data);
        if (chunk.error) {
          result.error = chunk.error.message;
          continue;
        }
        result.model = chunk.model || result.model;
        for (const choice of chunk.choices || []) {
          const delta = choice.delta || {};
          if (delta.content) {
            reply.body.append(document.createTextNode(delta.content));  // one DOM update per delta
            result.text += delta.content;
            speakText(delta.content, false);
          }
          for (const part of delta.tool_calls || []) showToolCall(result.toolCalls, part);
          if (choice.finish_reason) result.finish = choice.finish_reason;
        }
      }
    }
    return result;
  }

  async function errorMessage(response) {
    try {
      return (await response.json()).error.message;
    } catch {
      return `HTTP ${response.status}`;
    }
  }

  // One request: the history so far, streamed into a new reply entry. Returns the stream's result.
  async function request(reply) {
    const body = {messages: history, stream: true, metadata: {conversation_id: conversationId}};
    if (callAs.value.trim()) body.customer = {number: callAs.value.trim()};
    if (vapiTools.checked) body.tools = VAPI_TOOLS;
    const response = await fetch(root.dataset.chatUrl, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "X-CSRFToken": root.dataset.csrfToken},
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const result = await readStream(response, reply);
    speakText("", true);
    if (result.error) throw new Error(result.error);
    return result;
  }

  // A user message, then requests until the agent answers without calling a client tool (as a
  // client does: each tool call gets a result and the model goes on; the playground places no
  // real call, and says so in the result).
  async function send(text) {
    const before = history.length;
    history.push({role: "user", content: text});
    entry("user").textContent = text;
    const started = performance.now();
    status.textContent = "Waiting for the agent…";
    sendButton.disabled = true;
    let reply;
    try {
      for (let round = 0; round < MAX_TOOL_ROUNDS; round++) {
        reply = replyView();
        const result = await request(reply);
        reply.body.parentElement.classList.remove("streaming");
        const calls = result.toolCalls.filter(Boolean).map(({view, ...call}) => call);
        const elapsed = Math.round(performance.now() - started);
        status.textContent = `${result.model || ""} · finish: ${result.finish || "?"} · ${elapsed} ms`;
        if (!calls.length) {
          history.push({role: "assistant", content: result.text});
          return;
        }
        if (!reply.body.textContent) reply.body.parentElement.remove();  // nothing was said before the call
        history.push({role: "assistant", content: result.text || null, tool_calls: calls});
        for (const call of calls) {
          history.push({role: "tool", tool_call_id: call.id,
                        content: `${call.function.name} is not available in the playground; nothing happened.`});
        }
      }
    } catch (error) {
      history.length = before;
      reply.body.parentElement.classList.add("error");
      reply.body.textContent = error.message;
      status.textContent = "The request failed; the message was not added to the conversation.";
    } finally {
      reply?.body.parentElement?.classList.remove("streaming");
      sendButton.disabled = false;
    }
  }

  for (const example of hint.querySelectorAll("button[data-example]")) {
    example.addEventListener("click", () => {
      message.value = example.dataset.example;
      composer.requestSubmit();
    });
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = message.value.trim();
    if (!text || sendButton.disabled) return;
    message.value = "";
    send(text);
  });

  document.getElementById("reset").addEventListener("click", () => {
    history = [];
    conversationId = newConversationId();
    conversation.replaceChildren();
    hint.hidden = false;
    status.textContent = "";
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
  });

  // --- the microphone, where the browser has speech recognition ---
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (Recognition) {
    mic.hidden = false;
    mic.addEventListener("click", () => {
      const recognition = new Recognition();
      recognition.lang = "en-US";
      recognition.interimResults = true;
      mic.classList.add("listening");
      recognition.onresult = (event) => {
        const result = event.results[event.results.length - 1];
        message.value = result[0].transcript;
        if (result.isFinal) composer.requestSubmit();
      };
      recognition.onerror = (event) => { status.textContent = `Microphone: ${event.error}`; };
      recognition.onend = () => mic.classList.remove("listening");
      recognition.start();
    });
  }
})();
