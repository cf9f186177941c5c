// `npm run images`: the image builder's CLI (images/cli.ts) with the headless machine handed in, so
// traced recipes can boot their wide tree and verify the trimmed appliance (images/ cannot import worker/).
import { runCli } from '../../images/cli.ts';
import { bootGuest } from '../node/guest.ts';

runCli({ guest: bootGuest });
