// The extreme-alert alarm: three short beeps made with WebAudio (no audio file to ship or fetch).
// Browsers only allow sound after a user gesture, so the context is unlocked by the sign-in click.

let context = null;
let enabled = true;

export function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  if (context === null) context = new Context();
  if (context.state === "suspended") context.resume();
}

export function setSoundEnabled(on) {
  enabled = on;
  if (on) unlockAudio();
}

export const soundEnabled = () => enabled;

export function alarm() {
  if (!enabled || context === null) return false;
  const start = context.currentTime + 0.02;
  for (let n = 0; n < 3; n += 1) {
    const at = start + n * 0.25;
    const tone = context.createOscillator();
    const gain = context.createGain();
    tone.type = "square";
    tone.frequency.setValueAtTime(n % 2 === 0 ? 880 : 660, at);
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
    tone.connect(gain).connect(context.destination);
    tone.start(at);
    tone.stop(at + 0.2);
  }
  return true;
}
