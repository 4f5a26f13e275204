// The controls' icons: lucide's framework-free icon data drawn as inline SVG. Emoji
// glyphs depend on the system's fonts, and a desktop without a colour-emoji font
// showed the top bar as empty boxes; an SVG in currentColor looks the same everywhere
// and follows the theme. lucide-preact itself declares Preact 10 only.
import { h } from 'preact'
import type { IconNode } from 'lucide'

export function Icon({ icon, size = 20 }: { icon: IconNode; size?: number }) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width={2}
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
      focusable="false"
      class="svg-icon"
    >
      {icon.map(([tag, attrs]) => h(tag, attrs as Record<string, string | number>))}
    </svg>
  )
}
