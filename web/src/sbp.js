// Paying through СБП. On a phone (VK's mobile_* platforms) the СБП link opens the customer's bank
// app and the page then follows the payment's status; on a computer the page shows the link's QR
// code for the phone to scan.

export function opensSbpLinkDirectly(launch) {
  return launch?.platform === 'vk' && /^mobile_/.test(launch.vkPlatform ?? '');
}

// The status page first, so coming back from the bank app (or pressing Back) lands on it.
export function openSbpLink(created) {
  window.location.hash = `#/return?paymentId=${encodeURIComponent(created.paymentId)}`;
  window.location.assign(created.paymentUrl);
}

// The QR as an image source: the SVG the service drew, never fetched from anywhere.
export function qrImageSource(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

// Whether the time to pay is over: the payment's own deadline, as the service reports it.
export function isExpired(payment, now = Date.now()) {
  if (!payment?.expiresAt) return false;
  const deadline = Date.parse(payment.expiresAt);
  return Number.isFinite(deadline) && now > deadline;
}
