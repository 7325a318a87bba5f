// Strings of the per-speaker mix that do not belong to one screen (speaker_volumes.js).
export default {
  en: {
    "speaker_mix.full": "Volume per speaker is not available in this room right now: as many listeners use it as the room allows. You hear the whole room as one mix.",
    "speaker_mix.unavailable": "Volume per speaker is not available in rooms with interpretation channels or a broadcast audience. You hear the whole room as one mix.",
  },
  fr: {
    "speaker_mix.full": "Le volume par personne n’est pas disponible dans ce salon pour l’instant : autant d’auditeurs l’utilisent que le salon le permet. Vous entendez tout le salon en un seul mélange.",
    "speaker_mix.unavailable": "Le volume par personne n’est pas disponible dans les salons qui ont des canaux d’interprétation ou une audience en diffusion. Vous entendez tout le salon en un seul mélange.",
  },
};
