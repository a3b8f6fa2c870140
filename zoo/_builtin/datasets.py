"""The built-in datasets: scikit-learn's embedded ones and the files of the shared suites.

Registering imports nothing but the specs: every loader is named by import path and imported
only when its dataset is loaded. The ADBench and NAB file lists are generated from the compact
checksum tables below (the same sha256 as the data's ``SHA256SUMS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from zoo.plugins import hookimpl
from zoo.plugins.specs import DataFile, DatasetSpec

_LOADERS = "zoo.data.loaders"
_SKLEARN = "scikit-learn's bundled copy of the UCI dataset (scikit-learn.org)"

_MNIST_URL = "https://yann.lecun.com/exdb/mnist/"
_FASHION_MNIST_URL = ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                      "data/fashion/")
_SHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                    "tinyshakespeare/input.txt")
_ADBENCH_URL = "https://github.com/Minqi824/ADBench/raw/main/adbench/datasets/Classical/"
_NAB_URL = "https://raw.githubusercontent.com/numenta/NAB/master/"

# MNIST-format files in the loader's order, with (bytes, sha256) per dataset.
_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_MNIST_SUMS = (
    (9_912_422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    (28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    (1_648_877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    (4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
)
_FASHION_MNIST_SUMS = (
    (26_421_880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    (29_515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    (4_422_102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    (5_148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
)
_FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot")

# ADBench classical tables: sha256, bytes, samples, features, anomalies, file.
_ADBENCH_TABLE = """
792d0b5bd1147bfc9574a1974f157b39fbd4cbed8ecd04cf983fd554498ed477 2904730  49534   27  1508 1_ALOI.npz
e738f7c58a8740d2c4aac4c71ff49ce5e1d1aa16f44178135fc9c09df05fad1b   66547   7200    6   534 2_annthyroid.npz
4f37ce07dbc25ddad8178fdc6d664ab46d2d0000ee28c2787c3c7ff3c03ef9f6    3023    683    9   239 4_breastw.npz
74dd4d0072d6c6f1aabab63bc102f9633454f32bb936fa9bcfbd38f9f2386bcd  728999  41188   62  4640 5_campaign.npz
bc5009bde6930b4d298b594f31b34485a9a17210cff0e8fb00a8c3068b885a2d   68471   1831   21   176 6_cardio.npz
5ae84910430f05923e11b6f537243263977c9136949dabd891e3570aeec51e29   37911   2114   21   466 7_Cardiotocography.npz
1cadfdea14cd8d240eca715a70c09c88af8621d086a7478c63f602d97adef0b5 1700937 202599   39  4547 8_celeba.npz
945a097c3542ae81a551bf1c06dcad78a755d94f84fcaf1d60687e42d1a656df 2537258 286048   10  2747 10_cover.npz
5824ec854465f2763b4bfe3da1ae9f25ed5433b5c6e265d42e37da4f82a58679 2938691 619326   10 36710 11_donors.npz
aa7a8db1d475ba01a10488af454bc15220a3d5951b010b03b7020567d8152cdc   10755    214    7     9 14_glass.npz
4a87a2f7d8013e5bfde63294fae61ec7a612322de72f338a7f9491749025ad98    1644     80   19    13 15_Hepatitis.npz
9d98710091551587f4740cfc851a6b064fff6319a337c2dc77ee6da4bcc2e02c 2179269 567498    3  2211 16_http.npz
bdd8ad5cf5bf2cb96cba53dde30d522d0f6a279083a8e2bc7efbac5981b04385   78157   1966 1555   368 17_InternetAds.npz
bca46cb0cfd1bf9ddef6cde5ad2215d54fb0189508d0d4c4eb98e788cad69001   42913    351   32   126 18_Ionosphere.npz
f986d3da80cf1fa2aea83a5ebe73b7d4800e0d4c01fdd1ae074b58d20f10d039   23946   1600   32   100 20_letter.npz
dad977b04f4ea65b78ccd0e9f76b45175bad605165b37e63f3cc177845e67037    1895    148   18     6 21_Lymphography.npz
a0308ac9712d78321073b1c2dc98dc37665c0f35c1cc33019416fe8f8d7de7ea  166764  11183    6   260 23_mammography.npz
be7706272325fdd3592c1be555ae1a82f916a2f8545f4f8cbaa548ab102cc44c  455359   7603  100   700 24_mnist.npz
2ed3f4392197b76a1e59116ff880c7720a4b026cf4842073a53b56fdea265017  736255   3062  166    97 25_musk.npz
60de17a375a278ba220a7849727d998aa02b5e2f9fd17732a004bba28de4656e  197633   5216   64   150 26_optdigits.npz
c4936b89dcdad59d303020e492f763a0f54170080d787c77497609acbb9c2d79  653509   6870   16   156 28_pendigits.npz
215454bb263a2f040945c9ea7bd7f06f1e89a61a3143bdb6f196e3887e801a7d   11023    768    8   268 29_Pima.npz
1f048f5686f1b8c16a227fdfa3c81a62cd9a92715714a6b24c69b1c5ad96b46e  129874   6435   36  2036 30_satellite.npz
1b056e357f801b8b20c3f380a30224a3c4088d7ed764ec5a24828dc9b1918d6f  181405   5803   36    71 31_satimage-2.npz
26900b0f6be45d9ddb7a402c9b2f956ceda42d23a8ca4cf4406b8bc1352823d1  332929  49097    9  3511 32_shuttle.npz
d02aa01ffc1b6bf2b8b1ac250c90e8a8eacd0cefc962940ed5cc4bf5deac9c95  618680 245057    3 50859 33_skin.npz
d2569fc9bc12115419e3f5b37d19921e10e6c26e5ad1e61064cfb0fbc402dfdd  496392  95156    3    30 34_smtp.npz
99fe739447284f613fa54bf2dccdb51c5120175ce6260adec6dad77576c42509   20569    340    9    31 37_Stamps.npz
8de161b3f235b7647bb0b39a836d983ff61d67bf234edac461da2d71e889cb87   39882   3772    6    93 38_thyroid.npz
4bfc4244d1c882773bbbc50d4a5db5e52276e53506e46b2d45e02d074cfcb1b6  134268   1456   12    50 40_vowels.npz
6c9d867337ad1a2f8372c1d27f4c032f0401237e2041b7c45f00de8d319ff30f  145028   3443   21   100 41_Waveform.npz
650f9dcb129248f67a291be0974f533ef259fcbde50fce5c8ad2a1cb2652d03b    1444    223    9    10 42_WBC.npz
78d4606a1ab516f5b60b00c196497f3bbd6bd5e4548fd04cf5f2475209b34b85   46770    367   30    10 43_WDBC.npz
d5ad8965d92cc57122fe1e6572bb301adbaf795b3e166d187ae00a704d8f6e20    4072    129   13    10 45_wine.npz
68a6d67242643855713bcdad07d89ecc472bd00000dccc17ba87916eb2693d19   44367    198   33    47 46_WPBC.npz
"""  # noqa: E501

# NAB: sha256, bytes, path under the NAB repository (the 58 series and their anomaly windows).
_NAB_TABLE = """
ccb7743ac2de8ca110db4af796d11ba31a23ad448a28e353a935c15f637756bc 116776 data/artificialNoAnomaly/art_daily_no_noise.csv
662ff0a295b81eb0ff8e81116a54a497cd6f6b07c19c7a5ea72cce494913ce62 100816 data/artificialNoAnomaly/art_daily_perfect_square_wave.csv
c4b304229f69f108eaa024fb2406fcd4510c5c5d95cd0053e2da6989682e4e6d 140187 data/artificialNoAnomaly/art_daily_small_noise.csv
1cc10761ddd6d55fb5f0d9cfc73610416abbb120ee14bb65eff288509a463397 100816 data/artificialNoAnomaly/art_flatline.csv
ad455adeaf06852222500955f2aefe6bd389cc762ef68e7102ee543209c8607f 140916 data/artificialNoAnomaly/art_noisy.csv
ea5df125947e9ee2b977ac3d341f3c2a029588862af97cae4a654fc56e838702 140292 data/artificialWithAnomaly/art_daily_flatmiddle.csv
4af31802e87dff4b4ba3ceb21714ba9d905f7888e1f53d47cc6dd4f856f9debc 140814 data/artificialWithAnomaly/art_daily_jumpsdown.csv
f79f92b93ee4f9c10e2dc552505e8880b0c618639ed5e0f9816e044b75c26456 140548 data/artificialWithAnomaly/art_daily_jumpsup.csv
65c85d1834376ed5e622f01721d478609577ea0df0a067c5a5ebe5edea03b077 140478 data/artificialWithAnomaly/art_daily_nojump.csv
0959d8871d5c1a3fc3120fb7421e4ef113fffb434af2889085b52aebdb69360c  96869 data/artificialWithAnomaly/art_increase_spike_density.csv
99f7130e54c7c3e818df8e3bdc0974cd241914bb14a10a9c3fa7c1374125d224 101603 data/artificialWithAnomaly/art_load_balancer_spikes.csv
ab446fbd8b9f37507eb2fdb06315826d8daeef02e241133ce06e0ee571ba53d9 105367 data/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv
8942e498de7b40f1b4a6d802755592c09b8fb73ce8f658763a09cb9ea1ea94ac 116041 data/realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv
01613e6f632d067f11a5dfd40a188b0789752b388d9bc77a398bd06333878a76 119229 data/realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv
90ceabd570b449241ee24ff8a116a793979b7671ce4490707311bfea0e0aae1f 106007 data/realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv
d768419037c9db269343822957314f57ee21a7d9a4d41df2add0d1ba45ba84de 113675 data/realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv
749a15c2e1a4543c21fee9cbf3338cd8a7ed5f5f8a1308b9b099b06c2c66e66b 116980 data/realAWSCloudwatch/ec2_cpu_utilization_ac20cd.csv
d936cea74682ed43ac96b778352d7de294c0b0c168f4a7e6817162346cdb28c1 104962 data/realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv
f3433f8171f4dcea86c0c7af9996d0f166f812fa0f4567f1d5cd85d2d2cd69b4 115788 data/realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv
ce3d6c6a652ed7c31a6dd3727a36e128fcac6fb2381c63267ad0fbc02eccd9df 116626 data/realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv
a0e734a66098bb81833835f0839dadafbc8ae829c51494670ee8849e46eb5b63 101626 data/realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv
39104b08f2e0a673b5137eb7681897fcadf0955fedf565740a6a94edc63a81a4 117236 data/realAWSCloudwatch/ec2_network_in_257a54.csv
c27ef93f582af63bf42e80d804764cbe64ae987620f3cfab5477d6ebb3c6157e 120827 data/realAWSCloudwatch/ec2_network_in_5abac7.csv
74c26574a01ca9fb89dddb5021e2e13c3a93eb25dc640438a9acb1ceb00f1021 101052 data/realAWSCloudwatch/elb_request_count_8c0756.csv
86a0abe9d58e376858d2fd4f4a438f1997e24c64a09e5af03accd4e1b372ac47 131065 data/realAWSCloudwatch/grok_asg_anomaly.csv
f115fbe6542159eed5612445bfa620708a28ab6b41349d1432bb15c3a3b8414d  37339 data/realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv
d5df979ef85928769a016cd0f935919d8c2a113926e21e1eb3a5001d688760e2 117806 data/realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv
6b712b922ab3b3404c5a629d64a570c390c99471ee8b9b0ff7665f553fda92c1 113599 data/realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv
d869ab165254f3ee77ee21fd9fab2be1d07c1f80b8133cf01bbaf2d768c2ac64  58887 data/realAdExchange/exchange-2_cpc_results.csv
1f01b9438566d2fe1ac446faa202a395ac86db9240a1955bc1f118c8eada2a19  58313 data/realAdExchange/exchange-2_cpm_results.csv
e70b24dba107a2589657cb3feb9ca5605b4f3f7de49ff445f32f5991bc0bdbe5  55474 data/realAdExchange/exchange-3_cpc_results.csv
74d354a94fb1730e14b469c7c1c6e99c2ad69af53afdb85f65220bd3cf01ce4a  54949 data/realAdExchange/exchange-3_cpm_results.csv
d4c13abd6f28594dc446f22106562ebe917fdbe76170f60a500c2a402ecc09e2  60212 data/realAdExchange/exchange-4_cpc_results.csv
4e5c955b632145b77b93fba4a5e3bf615d47e00416e17091d64e05ae109c760e  58931 data/realAdExchange/exchange-4_cpm_results.csv
230b68ccca20f59d562afd5d24ad52939c9b784386bed0054018358bf9120581 233321 data/realKnownCause/ambient_temperature_system_failure.csv
58ba65dc0737cfbac11b51514476d50c438d44011232144bb8d93f392df58f9f 539274 data/realKnownCause/cpu_utilization_asg_misconfiguration.csv
98378580aa80157e057c61d59d81daddccc6c65a2c0c800e3f01f603b8215c3f 123428 data/realKnownCause/ec2_request_latency_system_failure.csv
92bf5b87fc7f9bba8ca0b7ec63ccaac8cb4a1371a258e8c29a10ae9c018d82a4 732223 data/realKnownCause/machine_temperature_system_failure.csv
d8fa6f7f0734bf5c8be12c52a94e20a82664c397d9dec4449156bd453d32856d 265771 data/realKnownCause/nyc_taxi.csv
47b110baa8e3636574c1033dda1cce780873647fab58223d159d4fee6f180e86  55527 data/realKnownCause/rogue_agent_key_hold.csv
9797cfef477c13306f7a33874ab4d6cf700f8f2c7e5825a2a5bc02004370909a 138333 data/realKnownCause/rogue_agent_key_updown.csv
38e70e9ead8227fd023bff6e93247d5bc01ee008f781b921a156962419b399bb  59846 data/realTraffic/TravelTime_387.csv
7c174adfc457b201cd111d60688f7ec37eb7201c8080790dc41eeff477bd7345  51918 data/realTraffic/TravelTime_451.csv
cd357d7820d675074270fd976d4af1fc1e7854ecb764783028cbcb18d980c91d  59122 data/realTraffic/occupancy_6005.csv
5663a8122a300360eb51fbbd0f21706da05af1af55262926d6a226bb6d071704  62609 data/realTraffic/occupancy_t4013.csv
7976e7596cd1e579696c737576e96a26fe041484472ed7d0a463ce2b094d7aa7  57538 data/realTraffic/speed_6005.csv
15ba994384730cb5a2e6818f17ded1430b40d92eb7a08e5b1a48a445c8c350f6  25928 data/realTraffic/speed_7578.csv
fa5532d6f7db36cadc73e657fd4dfef05cb1ec44d4010243b314d3f1bbd6a7b5  57400 data/realTraffic/speed_t4013.csv
826f5cf404c2890784a7824f7102fd00cb134a4948e12e44ec320d095cbbc217 368111 data/realTweets/Twitter_volume_AAPL.csv
234f5e63f19a62720dfb7ccfd6ecc8349b94d93b33ef8aafbdb17edda0b654f3 364666 data/realTweets/Twitter_volume_AMZN.csv
e7133bf26479623d58fc7367107aea1cd7df6020420dece48b0eee4d26cdb28a 350820 data/realTweets/Twitter_volume_CRM.csv
f0bdc89cba3dd2265b47069187c750eeae18ef48f76f86067ee26ea1af9c3114 348802 data/realTweets/Twitter_volume_CVS.csv
a7096bd646759486bda6796b5600cd33a4590f0842bf274ea7acba001b3ba591 359760 data/realTweets/Twitter_volume_FB.csv
3a39cc23d1ff6a0f234b55298d0c46c21d2e94ddb81a0dad9e1e46e3aaa9ec90 361270 data/realTweets/Twitter_volume_GOOG.csv
4309bd56d28ddcbdc168e207da9717395fa2e9f74dba41fa768e0f7da8a116fa 351268 data/realTweets/Twitter_volume_IBM.csv
f3aa8157043c6569911031535bd1f7a73b428b5a2d95238d79b9d5b88ceebbd2 355283 data/realTweets/Twitter_volume_KO.csv
18d2804d6a5dae63fe711baaba9242dce38a32bfade3dcdee1d8a7c1a866e41b 348926 data/realTweets/Twitter_volume_PFE.csv
be50f06bbb9d020f37653c8c5cf19af63f77aa0019d8cf10849d91f4af455af4 350182 data/realTweets/Twitter_volume_UPS.csv
1e1fbc4601321aad8d0f8b3784c8134299379f68f6c1f7777565f8ffd57ab6b1  15359 labels/combined_windows.json
"""  # noqa: E501

# ADBench names that would clash with another built-in dataset get this prefix.
_ADBENCH_PREFIX = "adbench-"
_DIGIT_CLASSES = tuple(str(d) for d in range(10))


@hookimpl
def zoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register the embedded datasets, MNIST-likes, ADBench tables, tiny-shakespeare and NAB."""
    specs = [*_embedded(), _mnist(), _fashion_mnist(), _shakespeare(), _nab()]
    taken = {spec.name for spec in specs}
    for spec in [*specs, *_adbench(taken)]:
        register(spec)


def _rows(table: str) -> Iterator[list[str]]:
    """The whitespace-separated fields of each line of a table."""
    return (line.split() for line in table.strip().splitlines())


def _embedded() -> Iterator[DatasetSpec]:
    """scikit-learn's bundled datasets and the anomaly tables built from them (no files)."""
    yield DatasetSpec(
        "digits", "image", ("classify", "detect", "generate"), f"{_LOADERS}:digits",
        size="1,797 x 1x8x8", source="scikit-learn's copy of the UCI optical digits test set",
        summary="handwritten digits 0-9 as 8x8 grey images in [0, 1]")
    yield DatasetSpec(
        "breast-cancer", "tabular", ("classify",), f"{_LOADERS}:breast_cancer",
        size="569 x 30", source=_SKLEARN,
        summary="Wisconsin diagnostic breast cancer (WDBC): malignant or benign")
    yield DatasetSpec(
        "wine", "tabular", ("classify",), f"{_LOADERS}:wine", size="178 x 13",
        source=_SKLEARN, summary="wine recognition: chemical analysis, three cultivars")
    yield DatasetSpec(
        "diabetes", "tabular", ("regress",), f"{_LOADERS}:diabetes", size="442 x 10",
        source="scikit-learn (Efron et al., 'Least Angle Regression', 2004)",
        summary="diabetes progression after one year from ten baseline measurements")
    yield DatasetSpec(
        "breast-cancer-ad", "tabular", ("detect",), f"{_LOADERS}:breast_cancer_ad",
        size="367 x 30 (10 anomalies, 2.7%)", source=f"{_SKLEARN}; built like ODDS WDBC",
        summary="WDBC anomalies: all benign rows plus 10 malignant ones (fixed seed)")
    yield DatasetSpec(
        "wine-ad", "tabular", ("detect",), f"{_LOADERS}:wine_ad",
        size="129 x 13 (10 anomalies, 7.8%)", source=f"{_SKLEARN}; built like ODDS wine",
        summary="wine anomalies: cultivars 1 and 2 plus 10 rows of cultivar 0 (fixed seed)")
    yield DatasetSpec(
        "digits-ad", "tabular", ("detect",), f"{_LOADERS}:digits_ad",
        size="1,708 x 64 (85 anomalies, 5.0%)", source="scikit-learn's optical digits",
        summary="digit anomalies: every digit but 8 normal, 8s as 5% anomalies (fixed seed)")


def _idx_dataset(name: str, base_url: str, sums: tuple[tuple[int, str], ...],
                 class_names: tuple[str, ...], source: str, summary: str) -> DatasetSpec:
    files = tuple(DataFile(f"{name}/{file}", base_url + file, sha256, size)
                  for file, (size, sha256) in zip(_IDX_FILES, sums, strict=True))
    return DatasetSpec(
        name, "image", ("classify", "detect", "generate"), f"{_LOADERS}:idx_images",
        files=files, options={"class_names": class_names},
        size="70,000 x 1x28x28 (60,000 train / 10,000 test)", source=source, summary=summary)


def _mnist() -> DatasetSpec:
    return _idx_dataset(
        "mnist", _MNIST_URL, _MNIST_SUMS, _DIGIT_CLASSES,
        source="LeCun, Cortes and Burges, yann.lecun.com/exdb/mnist",
        summary="handwritten digits 0-9, 28x28 grey images, fixed train/test split")


def _fashion_mnist() -> DatasetSpec:
    return _idx_dataset(
        "fashion-mnist", _FASHION_MNIST_URL, _FASHION_MNIST_SUMS, _FASHION_CLASSES,
        source="Xiao, Rasul and Vollgraf 2017, github.com/zalandoresearch/fashion-mnist (MIT)",
        summary="Zalando clothing in 10 classes, 28x28 grey images, fixed train/test split")


def _shakespeare() -> DatasetSpec:
    return DatasetSpec(
        "tiny-shakespeare", "text", ("generate",), f"{_LOADERS}:characters",
        files=(DataFile("tinyshakespeare/input.txt", _SHAKESPEARE_URL,
                        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                        1_115_394),),
        size="1,115,394 characters, 65 distinct",
        source="Karpathy, github.com/karpathy/char-rnn (MIT)",
        summary="Shakespeare's plays as one character sequence (char-level language model)")


def _nab() -> DatasetSpec:
    files = tuple(DataFile(f"nab/{path}", _NAB_URL + path, sha256, int(size))
                  for sha256, size, path in _rows(_NAB_TABLE))
    return DatasetSpec(
        "nab", "timeseries", ("detect",), f"{_LOADERS}:nab", files=files,
        size="58 series, 365,558 steps",
        source="Lavin and Ahmad 2015, github.com/numenta/NAB (MIT)",
        summary="Numenta Anomaly Benchmark: real and artificial series with anomaly windows")


def _adbench(taken: set[str]) -> Iterator[DatasetSpec]:
    """One spec per ADBench table, named by its file without the number (``6_cardio.npz``
    -> ``cardio``), or ``adbench-<name>`` where that name is taken (``mnist``, ``wine``)."""
    for sha256, size, n, features, anomalies, file in _rows(_ADBENCH_TABLE):
        name = file.removesuffix(".npz").split("_", 1)[1].lower()
        if name in taken:
            name = _ADBENCH_PREFIX + name
        share = 100 * int(anomalies) / int(n)
        yield DatasetSpec(
            name, "tabular", ("detect",), f"{_LOADERS}:adbench",
            files=(DataFile(f"adbench_classical/{file}", _ADBENCH_URL + file, sha256,
                            int(size)),),
            size=f"{int(n):,} x {features} ({int(anomalies):,} anomalies, {share:.1f}%)",
            source="ADBench (Han et al., NeurIPS 2022), github.com/Minqi824/ADBench (BSD-2)",
            summary=f"ADBench classical table {file.removesuffix('.npz')}: tabular anomalies")
