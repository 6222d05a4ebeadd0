// Sends the customer to the acquirer's hosted form. In VK the page itself goes there and the form
// returns to #/return. A Facebook tab is an iframe inside facebook.com, so the form opens in a
// new browser tab and the tab itself follows the payment's status.
export function goToPaymentForm(launch, created) {
  if (launch.platform === 'facebook') {
    const opened = window.open(created.paymentUrl, '_blank');
    if (opened) {
      opened.opener = null;
      window.location.hash = `#/return?paymentId=${encodeURIComponent(created.paymentId)}`;
      return;
    }
  }
  window.location.assign(created.paymentUrl);
}
